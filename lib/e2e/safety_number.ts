/**
 * Safety numbers: what two users compare, in person or over another channel,
 * to make sure the keys their clients pinned are really each other's and not
 * keys the server substituted. Modelled on Signal's numeric fingerprint.
 *
 * For each party: start from 0x0000 (version) || keyBytes || phone (UTF-8),
 * where keyBytes = signing key || encryption key, then 5200 times replace it
 * by SHA-512(previous || keyBytes). The first 30 bytes of the result, read as
 * six 5-byte big-endian numbers each taken mod 100000 and zero-padded to 5
 * digits, give that party's 30 digits. The safety number is both parties'
 * digits in sorted order, so both users see the same 60 digits.
 *
 * The 5200 iterations make each extra bit of a key search cost 5200 hashes:
 * an attacker looking for a key whose 30 digits (≈ 2^100) collide with a
 * victim's cannot afford to.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { concatBytes, utf8 } from "../bytes.ts";

/** One party's identity as its safety number shows it. */
export interface SafetyNumberParty {
  /** The party's number, E.164. */
  phone: string;
  /** Raw 32-byte Ed25519 public key. */
  signingKey: Uint8Array;
  /** Raw 32-byte X25519 public key. */
  encryptionKey: Uint8Array;
}

/** SHA-512 iterations per party, as in Signal. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
const VERSION = Uint8Array.of(0x00, 0x00);
const KEY_BYTES = 32;

/**
 * The safety number of two parties: 60 digits in 12 groups of 5, separated
 * by spaces. The same whichever party is `a`; any change to either party's
 * keys or number changes it.
 *
 * @throws {RangeError} If a key is not 32 bytes.
 */
export function safetyNumber(a: SafetyNumberParty, b: SafetyNumberParty): string {
  const digits = [partyDigits(a), partyDigits(b)].sort().join("");
  return digits.match(/\d{5}/g)!.join(" ");
}

/** The 30 digits that stand for one party. */
function partyDigits(party: SafetyNumberParty): string {
  checkKey(party.signingKey, "signingKey");
  checkKey(party.encryptionKey, "encryptionKey");
  if (typeof party.phone !== "string") throw new TypeError("phone must be a string");
  const keyBytes = concatBytes(party.signingKey, party.encryptionKey);
  let hash = concatBytes(VERSION, keyBytes, utf8(party.phone));
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) {
    hash = new Uint8Array(createHash("sha512").update(hash).update(keyBytes).digest());
  }
  let digits = "";
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0;
    // 5 bytes = 40 bits, well inside a double's exact-integer range.
    for (let i = 0; i < 5; i++) value = value * 256 + hash[chunk * 5 + i]!;
    digits += String(value % 100000).padStart(5, "0");
  }
  return digits;
}

function checkKey(key: Uint8Array, name: string): void {
  if (!(key instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (key.length !== KEY_BYTES) {
    throw new RangeError(`${name} must be ${KEY_BYTES} bytes, got ${key.length}`);
  }
}
