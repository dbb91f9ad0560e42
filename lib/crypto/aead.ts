/**
 * The raw AEAD: ChaCha20-Poly1305 (RFC 8439) sealing and opening into new
 * buffers, and the suite-generic helpers the record layer (`../wire/record.ts`)
 * builds on. The primitives come from `aead_backend.ts` (OpenSSL's libcrypto,
 * or node:crypto).
 *
 * @module
 */
import {
  aeadBackend,
  type AeadSuite,
  authFailed,
  checkAeadArguments,
  TAG_BYTES,
} from "./aead_backend.ts";

const CHACHA = "chacha20-poly1305";
const EMPTY = new Uint8Array(0);

/**
 * Encrypts and authenticates `plaintext` and authenticates `aad` (RFC 8439 §2.8).
 *
 * The caller must never use a (key, nonce) pair twice; the record layer
 * (`RecordSealer` in `../wire/record.ts`) does that bookkeeping.
 *
 * @param prefix bytes to place before the ciphertext in the result (not encrypted; e.g. the
 *   frame header, which callers usually also pass as `aad`).
 * @returns `prefix || ciphertext || tag`, `prefix.length + plaintext.length + TAG_BYTES` bytes.
 * @throws {TypeError} If an argument is not a `Uint8Array`.
 * @throws {RangeError} If the key is not 32 bytes or the nonce not 12.
 */
export function chacha20Poly1305Seal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  prefix: Uint8Array = EMPTY,
): Uint8Array {
  checkBytes(prefix, "prefix");
  checkBytes(plaintext, "plaintext");
  return sealWithPrefix(CHACHA, key, nonce, aad, [plaintext], prefix);
}

/**
 * {@linkcode chacha20Poly1305Seal} of a plaintext given in pieces, without
 * joining them: the result is the ciphertext of each piece, in order, then
 * the tag. ChaCha20 is a stream cipher, so the concatenation of the result is
 * exactly the sealing of the joined plaintext. The pieces are views of one
 * new buffer, `ciphertext || tag`.
 *
 * @throws {TypeError} If an argument is not a `Uint8Array`.
 * @throws {RangeError} If the key is not 32 bytes or the nonce not 12.
 */
export function chacha20Poly1305SealParts(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  parts: readonly Uint8Array[],
): Uint8Array[] {
  for (const part of parts) checkBytes(part, "plaintext");
  return splitLike(sealWithPrefix(CHACHA, key, nonce, aad, parts, EMPTY), parts);
}

/** Views of `sealed` (`ciphertext || tag`): one per part, of its length, then the tag. */
export function splitLike(sealed: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const part of parts) {
    pieces.push(sealed.subarray(offset, offset + part.length));
    offset += part.length;
  }
  pieces.push(sealed.subarray(offset));
  return pieces;
}

/**
 * Verifies and decrypts `ciphertext || tag` produced by {@linkcode chacha20Poly1305Seal}.
 *
 * @returns The plaintext, a new array, released only once the tag has verified.
 * @throws {RecordError} `record_auth_failed` if the tag, nonce, key or `aad` do not match,
 *   or `sealed` is shorter than a tag.
 * @throws {TypeError} If an argument is not a `Uint8Array`.
 * @throws {RangeError} If the key is not 32 bytes or the nonce not 12.
 */
export function chacha20Poly1305Open(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  return openSealed(CHACHA, key, nonce, aad, sealed);
}

/**
 * Seals `parts` joined into one new buffer `prefix || ciphertext || tag`:
 * one allocation, the pieces encrypted straight into it.
 */
export function sealWithPrefix(
  suite: AeadSuite,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  parts: readonly Uint8Array[],
  prefix: Uint8Array,
): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(prefix.length + length + TAG_BYTES);
  out.set(prefix);
  const outputs: Uint8Array[] = [];
  let offset = prefix.length;
  for (const part of parts) {
    outputs.push(out.subarray(offset, offset + part.length));
    offset += part.length;
  }
  aeadBackend().sealInto(suite, key, nonce, aad, parts, outputs, out.subarray(offset));
  return out;
}

/** Opens `ciphertext || tag` into a new array. */
export function openSealed(
  suite: AeadSuite,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  checkBytes(sealed, "sealed");
  if (sealed.length < TAG_BYTES) {
    // Still check the other arguments, so a misuse is a TypeError/RangeError, not a forgery.
    checkAeadArguments(suite, key, nonce, aad);
    throw authFailed();
  }
  const length = sealed.length - TAG_BYTES;
  const plaintext = new Uint8Array(length);
  aeadBackend().openInto(
    suite,
    key,
    nonce,
    aad,
    [sealed.subarray(0, length)],
    sealed.subarray(length),
    [plaintext],
  );
  return plaintext;
}

function checkBytes(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}
