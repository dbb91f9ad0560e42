/**
 * HKDF-SHA-256 (RFC 5869) and HMAC-SHA-256 (RFC 2104), synchronous, on
 * node:crypto. The handshake derives its traffic keys with these and the
 * record layer derives each rekeyed key with {@linkcode hkdfSha256}.
 *
 * @module
 */
import { createHmac, hkdfSync } from "node:crypto";

/** Output length of SHA-256 and of {@linkcode hmacSha256}, in bytes. */
export const SHA256_BYTES = 32;

/**
 * Largest output HKDF-SHA-256 can produce: RFC 5869 §2.3 limits L to
 * 255 × HashLen, because the block counter is a single byte.
 */
export const HKDF_SHA256_MAX_BYTES = 255 * SHA256_BYTES;

/**
 * Derives `length` bytes with HKDF-SHA-256 (extract then expand, RFC 5869).
 *
 * An empty `salt` means "no salt" (RFC 5869 §2.2: a string of HashLen zeros,
 * which HMAC treats identically).
 *
 * @param ikm Input keying material.
 * @param salt Extract salt; may be empty.
 * @param info Context string binding the output to its use.
 * @param length Output length in bytes, 0 … {@linkcode HKDF_SHA256_MAX_BYTES}.
 * @returns The output keying material.
 * @throws {TypeError} If an input is not a `Uint8Array`.
 * @throws {RangeError} If `length` is not an integer in range.
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  assertBytes(ikm, "ikm");
  assertBytes(salt, "salt");
  assertBytes(info, "info");
  // Checked here rather than left to node so the caller gets a RangeError naming the limit.
  if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX_BYTES) {
    throw new RangeError(
      `HKDF-SHA-256 output length must be an integer from 0 to ${HKDF_SHA256_MAX_BYTES}, got ${length}`,
    );
  }
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
}

/**
 * Computes the full 32-byte HMAC-SHA-256 of `data` under `key`.
 *
 * Compare tags with `constantTimeEqual` from `lib/bytes.ts`, never `===` on hex.
 *
 * @throws {TypeError} If an input is not a `Uint8Array`.
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  assertBytes(key, "key");
  assertBytes(data, "data");
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

function assertBytes(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}
