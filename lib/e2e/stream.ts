/**
 * File payload encryption: the STREAM construction of the age format
 * (https://age-encryption.org/v1, "payload"), with a configurable chunk size.
 *
 * A file is cut into chunks of `chunkBytes` plaintext bytes; chunk `i` is
 * sealed with ChaCha20-Poly1305 under the file's own 32-byte key and the nonce
 *
 * ```
 * nonce = i as 11-byte big-endian || 0x01 if last chunk else 0x00
 * ```
 *
 * with empty associated data. The counter in the nonce binds each chunk to its
 * position, so chunks cannot be reordered, dropped or duplicated; the flag binds
 * the end, so a file cut at a chunk boundary does not open as a shorter one.
 *
 * The functions are stateless and keyed by chunk index so that a transfer can
 * resume, or fetch chunks in parallel, at any chunk. The price is that this
 * module cannot see nonce reuse: **the caller must never seal two different
 * plaintexts under the same (key, index)**. ssp meets that by drawing a fresh
 * random key for every file upload (never reusing a key for an edited file or
 * a second upload) and sealing each chunk of it once.
 *
 * @module
 */
import {
  aeadBackend,
  chacha20Poly1305Open,
  chacha20Poly1305SealParts,
  NONCE_BYTES,
  TAG_BYTES,
} from "../crypto/mod.ts";
import { concatBytes } from "../bytes.ts";
import { EnvelopeError, RecordError } from "../errors.ts";

/** Length of a per-file key, in bytes. */
export const FILE_KEY_BYTES = 32;
/** Plaintext bytes per chunk unless the sender picks another size. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** Smallest allowed chunk size: below this the 16-byte tags start to cost more than 0.1 %. */
export const MIN_CHUNK_BYTES = 16 * 1024;
/** Largest allowed chunk size: bounds the memory a receiver needs to hold one chunk. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** Ciphertext bytes added to every chunk: the Poly1305 tag. */
export const CHUNK_OVERHEAD = TAG_BYTES;

const EMPTY = new Uint8Array(0);
const LAST_CHUNK_FLAG = 0x01;
const SUITE = "chacha20-poly1305";

/** Where a chunk's plaintext lies in the file. */
export interface ChunkRange {
  /** Byte offset of the chunk's first plaintext byte. */
  offset: number;
  /** Plaintext bytes in the chunk; 0 only for the single chunk of an empty file. */
  length: number;
}

/**
 * Number of chunks a file of `plainSize` bytes is sealed into.
 *
 * Mirrors age: the last chunk may be short or full, and must not be empty
 * unless the whole file is. So an empty file is one empty last chunk (its tag
 * is what lets the recipient tell an empty file from one truncated to nothing),
 * and a file of exactly k·chunkBytes bytes (k ≥ 1) is k chunks, the k-th full
 * and flagged last, with no empty chunk after it. This keeps the encoding of
 * every file unique and cipherSize() a simple function of the plaintext size.
 *
 * @throws {RangeError} If `plainSize` is not a non-negative safe integer or
 *   `chunkBytes` is not an integer in [MIN_CHUNK_BYTES, MAX_CHUNK_BYTES].
 */
export function chunkCount(plainSize: number, chunkBytes: number): number {
  checkPlainSize(plainSize);
  checkChunkBytes(chunkBytes);
  return Math.max(1, Math.ceil(plainSize / chunkBytes));
}

/**
 * Total ciphertext bytes of a file of `plainSize` bytes: the plaintext plus
 * one tag per chunk.
 *
 * @throws {RangeError} As {@linkcode chunkCount}, or if the total is not a safe integer.
 */
export function cipherSize(plainSize: number, chunkBytes: number): number {
  const total = plainSize + chunkCount(plainSize, chunkBytes) * CHUNK_OVERHEAD;
  if (!Number.isSafeInteger(total)) {
    throw new RangeError(`a file of ${plainSize} bytes is too large to encrypt`);
  }
  return total;
}

/**
 * The plaintext range of chunk `index` in a file of `plainSize` bytes.
 *
 * @throws {RangeError} As {@linkcode chunkCount}, or if `index` is not below the chunk count.
 */
export function chunkPlainRange(index: number, plainSize: number, chunkBytes: number): ChunkRange {
  const count = chunkCount(plainSize, chunkBytes);
  checkIndex(index);
  if (index >= count) {
    throw new RangeError(`chunk ${index} is past the end: the file has ${count} chunk(s)`);
  }
  const offset = index * chunkBytes;
  return { offset, length: Math.min(chunkBytes, plainSize - offset) };
}

/**
 * Encrypts chunk `index` of a file.
 *
 * Never call this twice for the same (key, index) with different plaintexts:
 * the two ciphertexts would share a keystream and reveal their XOR, and the
 * Poly1305 key would allow forgeries. Use a fresh key per file.
 *
 * @param key The file's 32-byte key.
 * @param index The chunk's position, from 0.
 * @param isLast Whether this is the file's final chunk.
 * @param plaintext The chunk: at most MAX_CHUNK_BYTES; a non-last chunk holds at
 *   least MIN_CHUNK_BYTES, and only chunk 0 may be empty (and then it is last).
 * @returns `ciphertext || tag`, `plaintext.length + CHUNK_OVERHEAD` bytes.
 * @throws {TypeError} If `key` or `plaintext` is not a `Uint8Array`.
 * @throws {RangeError} If the key length, the index or the chunk length is out of range.
 */
export function sealChunk(
  key: Uint8Array,
  index: number,
  isLast: boolean,
  plaintext: Uint8Array,
): Uint8Array {
  return concatBytes(...sealChunkParts(key, index, isLast, plaintext));
}

/**
 * {@linkcode sealChunk} without joining its result: returns `[ciphertext, tag]`,
 * so that a sender can hand both to the channel without copying the chunk.
 */
export function sealChunkParts(
  key: Uint8Array,
  index: number,
  isLast: boolean,
  plaintext: Uint8Array,
): Uint8Array[] {
  checkChunk(key, index, isLast, plaintext);
  return chacha20Poly1305SealParts(key, chunkNonce(index, isLast), EMPTY, [plaintext]);
}

/**
 * {@linkcode sealChunk} into memory the caller owns, allocating nothing:
 * encrypts `chunk` where it lies and writes its tag into `tag`, so that
 * `chunk || tag` (after the call) is what `sealChunk` returns. A sender that
 * reads every chunk into one buffer seals it there.
 *
 * @param tag 16 bytes, not overlapping `chunk`.
 * @throws As {@linkcode sealChunk}; RangeError for a tag of another length.
 */
export function sealChunkInPlace(
  key: Uint8Array,
  index: number,
  isLast: boolean,
  chunk: Uint8Array,
  tag: Uint8Array,
): void {
  checkChunk(key, index, isLast, chunk);
  aeadBackend().sealInto(SUITE, key, chunkNonce(index, isLast), EMPTY, [chunk], [chunk], tag);
}

/** The checks of a chunk to seal: key, index, and a length an honest file has. */
function checkChunk(key: Uint8Array, index: number, isLast: boolean, plaintext: Uint8Array): void {
  checkKey(key);
  checkIndex(index);
  if (!(plaintext instanceof Uint8Array)) throw new TypeError("plaintext must be a Uint8Array");
  const length = plaintext.length;
  if (length > MAX_CHUNK_BYTES) {
    throw new RangeError(`a chunk holds at most ${MAX_CHUNK_BYTES} bytes, got ${length}`);
  }
  // A short chunk that is not last would mean the sender split the file wrongly and
  // the offsets of every later chunk are off; refuse rather than write such a file.
  if (!isLast && length < MIN_CHUNK_BYTES) {
    throw new RangeError(
      `chunk ${index} is not the last, so it must be full (≥ ${MIN_CHUNK_BYTES} bytes), got ${length}`,
    );
  }
  if (isLast && index > 0 && length === 0) {
    throw new RangeError(
      `the last chunk may be empty only in an empty file, not as chunk ${index}`,
    );
  }
}

/**
 * Verifies and decrypts chunk `index` of a file.
 *
 * The receiver must pass `isLast = true` exactly for the chunk it expects to end
 * the file (the last by the announced size, or the last one received). A file
 * cut short, chunks swapped, or a middle chunk passed off as the end all fail
 * here, since the nonce they were sealed under differs.
 *
 * @param key The file's 32-byte key.
 * @param index The chunk's position, from 0.
 * @param isLast Whether the receiver expects this chunk to end the file.
 * @param sealed `ciphertext || tag` from {@linkcode sealChunk}.
 * @returns The chunk's plaintext, released only after its tag verified.
 * @throws {EnvelopeError} `chunk_auth_failed` if the chunk does not verify under this
 *   key, index and flag; `chunk_malformed` for an empty last chunk after chunk 0,
 *   which no honest sender writes.
 * @throws {TypeError} If `key` or `sealed` is not a `Uint8Array`.
 * @throws {RangeError} If the key length, the index or the chunk length is out of range.
 */
export function openChunk(
  key: Uint8Array,
  index: number,
  isLast: boolean,
  sealed: Uint8Array,
): Uint8Array {
  return openChecked(
    key,
    index,
    isLast,
    sealed,
    () => chacha20Poly1305Open(key, chunkNonce(index, isLast), EMPTY, sealed),
  );
}

/**
 * {@linkcode openChunk} in place, allocating nothing: decrypts `sealed`
 * where it lies and returns the plaintext as a view of its first
 * `sealed.length - 16` bytes. On any failure those bytes are wiped, so no
 * unauthenticated plaintext is left behind. For a receiver that owns the
 * sealed chunk (e.g. it arrived in its own record).
 *
 * @throws As {@linkcode openChunk}.
 */
export function openChunkInPlace(
  key: Uint8Array,
  index: number,
  isLast: boolean,
  sealed: Uint8Array,
): Uint8Array {
  return openChecked(key, index, isLast, sealed, () => {
    if (sealed.length < TAG_BYTES) {
      return chacha20Poly1305Open(key, chunkNonce(index, isLast), EMPTY, sealed);
    }
    const length = sealed.length - TAG_BYTES;
    const plaintext = sealed.subarray(0, length);
    aeadBackend().openInto(
      SUITE,
      key,
      chunkNonce(index, isLast),
      EMPTY,
      [plaintext],
      sealed.subarray(length),
      [plaintext],
    );
    return plaintext;
  });
}

/** Argument checks, the error of a chunk that fails, and the empty-last-chunk rule. */
function openChecked(
  key: Uint8Array,
  index: number,
  isLast: boolean,
  sealed: Uint8Array,
  open: () => Uint8Array,
): Uint8Array {
  checkKey(key);
  checkIndex(index);
  if (!(sealed instanceof Uint8Array)) throw new TypeError("sealed must be a Uint8Array");
  if (sealed.length > MAX_CHUNK_BYTES + CHUNK_OVERHEAD) {
    throw new RangeError(
      `a sealed chunk holds at most ${
        MAX_CHUNK_BYTES + CHUNK_OVERHEAD
      } bytes, got ${sealed.length}`,
    );
  }
  let plaintext: Uint8Array;
  try {
    plaintext = open();
  } catch (error) {
    if (!(error instanceof RecordError)) throw error;
    throw new EnvelopeError(
      "chunk_auth_failed",
      `file chunk ${index} failed authentication: the file was altered, truncated or reordered`,
      {
        cause: error,
        hint: "download the file again; if it keeps failing, ask the sender to resend it",
      },
    );
  }
  // As in age: accepting an empty final chunk would give one file two encodings.
  if (isLast && index > 0 && plaintext.length === 0) {
    throw new EnvelopeError(
      "chunk_malformed",
      `file chunk ${index} is an empty last chunk, which only an empty file may have`,
      { hint: "the sender's ssp wrote an invalid file; ask them to update and resend it" },
    );
  }
  return plaintext;
}

/** The nonce of chunk `index`: 11-byte big-endian counter || last-chunk flag. */
function chunkNonce(index: number, isLast: boolean): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  const view = new DataView(nonce.buffer);
  // index < 2^53, so bytes 0..2 stay zero and bytes 3..10 hold it as a 64-bit integer.
  view.setUint32(3, Math.floor(index / 2 ** 32));
  view.setUint32(7, index >>> 0);
  nonce[NONCE_BYTES - 1] = isLast ? LAST_CHUNK_FLAG : 0x00;
  return nonce;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError("key must be a Uint8Array");
  if (key.length !== FILE_KEY_BYTES) {
    throw new RangeError(`a file key must be ${FILE_KEY_BYTES} bytes, got ${key.length}`);
  }
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`chunk index must be a non-negative safe integer, got ${index}`);
  }
}

function checkPlainSize(plainSize: number): void {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0) {
    throw new RangeError(`file size must be a non-negative safe integer, got ${plainSize}`);
  }
}

function checkChunkBytes(chunkBytes: number): void {
  if (
    !Number.isInteger(chunkBytes) || chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES
  ) {
    throw new RangeError(
      `chunk size must be an integer from ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES}, got ${chunkBytes}`,
    );
  }
}
