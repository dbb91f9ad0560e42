/**
 * Test helper: deterministic pseudo-random bytes (xorshift), so that
 * property tests can shrink and replay a failure. Not for anything secret.
 *
 * @module
 */

/** `length` bytes from a xorshift generator seeded with `seed`. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
