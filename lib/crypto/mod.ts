/**
 * Cryptographic primitives, pure and without I/O: the AEAD and its backends, HKDF, signatures,
 * Diffie-Hellman groups and their parameters, primes.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./aead.ts";
export * from "./aead_backend.ts";
export * from "./dh.ts";
export * from "./dhparam.ts";
export * from "./ffdhe.ts";
export * from "./kdf.ts";
export * from "./primes.ts";
export * from "./sign.ts";
