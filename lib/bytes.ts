/**
 * Small byte helpers shared by the codecs and the crypto.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Concatenates byte arrays into one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * Lower-case hex of `bytes`, as one flat string (a string built with `+=`
 * stays a tree of pieces, about 30 bytes a byte, for as long as it is kept).
 */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => HEX_PAIRS[b]!).join("");
}

/** Parses lower- or upper-case hex; throws `TypeError` on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError(`not a hex string: ${hex.slice(0, 16)}…`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Compares two byte arrays in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** UTF-8 encodes a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** SHA-256 digest of the concatenation of `parts` (synchronous, node:crypto). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** The unsigned big-endian integer that `bytes` encode. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + toHex(bytes));
}

/** Minimal unsigned big-endian encoding of `n` (at least one byte); RangeError if negative. */
export function bigIntToBytes(n: bigint): Uint8Array {
  if (n < 0n) throw new RangeError("cannot encode a negative integer");
  const hex = n.toString(16);
  return fromHex(hex.length % 2 ? "0" + hex : hex);
}
