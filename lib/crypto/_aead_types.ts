/**
 * The contract between `aead_backend.ts` and the implementations it wraps.
 *
 * @module
 */

/** AEAD suites, named as on the wire (docs/protocol.md §3.1, §4.1). */
export const AEAD_SUITES = ["chacha20-poly1305", "aes-256-gcm"] as const;
/** One of {@linkcode AEAD_SUITES}. */
export type AeadSuite = typeof AEAD_SUITES[number];

/**
 * One implementation of the AEADs. Called only by `aead_backend.ts` after it
 * checked every argument: key 32 bytes, nonce 12, tag 16, `inputs[i]` and
 * `outputs[i]` of equal length, each output either exactly its input (in
 * place) or overlapping nothing else, lengths below 2^31.
 */
export interface AeadPrimitive {
  /** Encrypts `plaintext[i]` into `ciphertext[i]`, then writes the tag. */
  seal(
    suite: AeadSuite,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: readonly Uint8Array[],
    ciphertext: readonly Uint8Array[],
    tag: Uint8Array,
  ): void;
  /**
   * Decrypts `ciphertext[i]` into `plaintext[i]` and checks `tag`; returns
   * whether it verified. The outputs may hold bytes even when it did not: the
   * caller wipes them.
   */
  open(
    suite: AeadSuite,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: readonly Uint8Array[],
    tag: Uint8Array,
    plaintext: readonly Uint8Array[],
  ): boolean;
}
