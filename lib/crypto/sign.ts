/**
 * Ed25519 signatures (RFC 8032) on WebCrypto, and OpenSSH-style key
 * fingerprints. Identity keys sign the handshake transcript; users compare
 * fingerprints out of band.
 *
 * @module
 */
import { sha256 } from "../bytes.ts";

/** Length of a raw Ed25519 public key, in bytes. */
export const PUBLIC_KEY_BYTES = 32;
/** Length of an Ed25519 signature (R || S), in bytes. */
export const SIGNATURE_BYTES = 64;

/** An Ed25519 key pair in the encodings ssp stores. */
export interface SigningKeyPair {
  /** The 32-byte raw public key (RFC 8032 §5.1.5 encoding). */
  publicKey: Uint8Array;
  /** The private key as PKCS #8 DER, the form WebCrypto imports and exports. */
  privateKeyPkcs8: Uint8Array;
}

const ED25519 = { name: "Ed25519" } as const;

/**
 * The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian,
 * as S is encoded (RFC 8032 §5.1).
 */
const GROUP_ORDER_LE = Uint8Array.from([
  0xed,
  0xd3,
  0xf5,
  0x5c,
  0x1a,
  0x63,
  0x12,
  0x58,
  0xd6,
  0x9c,
  0xf7,
  0xa2,
  0xde,
  0xf9,
  0xde,
  0x14,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x10,
]);

/** Generates a fresh Ed25519 key pair. */
export async function generateSigningKeyPair(): Promise<SigningKeyPair> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  const [publicKey, privateKeyPkcs8] = await Promise.all([
    crypto.subtle.exportKey("raw", pair.publicKey),
    crypto.subtle.exportKey("pkcs8", pair.privateKey),
  ]);
  return { publicKey: new Uint8Array(publicKey), privateKeyPkcs8: new Uint8Array(privateKeyPkcs8) };
}

/**
 * Signs `message` with a PKCS #8 Ed25519 private key.
 *
 * @returns The 64-byte signature.
 * @throws {TypeError} If an input is not a `Uint8Array`.
 * @throws {DOMException} If `privateKeyPkcs8` is not a valid Ed25519 PKCS #8 key.
 */
export async function sign(privateKeyPkcs8: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  assertBytes(privateKeyPkcs8, "privateKeyPkcs8");
  assertBytes(message, "message");
  const key = await crypto.subtle.importKey("pkcs8", copy(privateKeyPkcs8), ED25519, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign(ED25519, key, copy(message)));
}

/**
 * Verifies an Ed25519 signature over `message`.
 *
 * Never throws on untrusted input: a key or signature of the wrong length or
 * type, an undecodable point, or a non-canonical S all yield `false`, so a
 * caller cannot mistake a malformed signature for an error to retry.
 *
 * @param publicKey The 32-byte raw public key.
 * @param message The signed bytes.
 * @param signature The 64-byte signature R || S.
 * @returns Whether the signature is valid.
 */
export async function verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (
    !(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) ||
    !(signature instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES ||
    signature.length !== SIGNATURE_BYTES
  ) {
    return false;
  }
  // RFC 8032 §5.1.7 requires rejecting S ≥ L so that a signature has one encoding
  // (no malleability). Deno 2.9.6's WebCrypto already does (all Wycheproof cases pass
  // without this line); the explicit check keeps that guarantee if the backend changes.
  if (!isCanonicalScalar(signature.subarray(32))) return false;
  try {
    const key = await crypto.subtle.importKey("raw", copy(publicKey), ED25519, false, ["verify"]);
    return await crypto.subtle.verify(ED25519, key, copy(signature), copy(message));
  } catch {
    return false;
  }
}

/**
 * Fingerprint of a raw Ed25519 public key in OpenSSH's format: `"SHA256:"` and
 * the unpadded base64 of SHA-256 over the 32 raw key bytes.
 *
 * Note that OpenSSH itself hashes its wire encoding of the key, so the same key
 * shows a different fingerprint in `ssh-keygen -l`; only the format matches.
 *
 * @throws {TypeError} If `publicKey` is not a `Uint8Array`.
 * @throws {RangeError} If `publicKey` is not 32 bytes long.
 */
export function fingerprint(publicKey: Uint8Array): string {
  assertBytes(publicKey, "publicKey");
  if (publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new RangeError(
      `an Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`,
    );
  }
  return `SHA256:${btoa(String.fromCharCode(...sha256(publicKey))).replace(/=+$/, "")}`;
}

/** Whether the little-endian 32-byte `s` is below the group order L. */
function isCanonicalScalar(s: Uint8Array): boolean {
  // Public data, so an early-exit comparison leaks nothing secret.
  for (let i = 31; i >= 0; i--) {
    const a = s[i]!, b = GROUP_ORDER_LE[i]!;
    if (a !== b) return a < b;
  }
  return false;
}

/** Copies into a fresh ArrayBuffer-backed array, as WebCrypto's BufferSource type asks. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

function assertBytes(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}
