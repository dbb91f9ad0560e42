/**
 * HPKE (RFC 9180) in base mode with one fixed suite: DHKEM(X25519,
 * HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, from `@hpke/core`. Each
 * envelope seals its content key to every recipient's X25519 key with it.
 *
 * Base mode does not authenticate the sender; envelopes do that with an
 * Ed25519 signature over everything, including each `enc` and ciphertext.
 *
 * @module
 */
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { EnvelopeError } from "../errors.ts";

/** Length of an X25519 public key (Npk), and of `enc` (Nenc), in bytes. */
export const HPKE_PUBLIC_KEY_BYTES = 32;
/** Length of a raw X25519 private key (Nsk), in bytes. */
export const HPKE_PRIVATE_KEY_BYTES = 32;
/** Length of the ChaCha20-Poly1305 tag HPKE appends to each ciphertext, in bytes. */
export const HPKE_TAG_BYTES = 16;

/** An X25519 key pair, both halves as raw 32-byte strings (RFC 9180 §7.1.1, §7.1.2). */
export interface EncryptionKeyPair {
  /** The public key, as SerializePublicKey gives it. */
  publicKey: Uint8Array;
  /** The private key, as SerializePrivateKey gives it. */
  privateKey: Uint8Array;
}

/** The result of {@linkcode hpkeSeal}. */
export interface HpkeSealed {
  /** The encapsulated ephemeral public key. */
  enc: Uint8Array;
  /** The ciphertext with its tag. */
  ciphertext: Uint8Array;
}

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Chacha20Poly1305(),
});

/** Generates a fresh X25519 key pair for receiving HPKE messages. */
export async function generateEncryptionKeyPair(): Promise<EncryptionKeyPair> {
  const pair = await suite.kem.generateKeyPair();
  const [publicKey, privateKey] = await Promise.all([
    suite.kem.serializePublicKey(pair.publicKey),
    suite.kem.serializePrivateKey(pair.privateKey),
  ]);
  return { publicKey: new Uint8Array(publicKey), privateKey: new Uint8Array(privateKey) };
}

/**
 * Encrypts `plaintext` to `recipientPublicKey` with a fresh ephemeral key
 * (single-shot Seal, RFC 9180 §6.1).
 *
 * @throws {RangeError} If the public key is not 32 bytes.
 * @throws {EnvelopeError} `bad_recipient_key` if the key is a low-order point
 *   (RFC 9180 §7.1.4: the shared secret would be all zeros).
 */
export function hpkeSeal(
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<HpkeSealed> {
  return seal(recipientPublicKey, info, aad, plaintext, undefined);
}

/**
 * Decrypts what {@linkcode hpkeSeal} produced (single-shot Open, sequence
 * number 0).
 *
 * @param recipientPrivateKey The raw 32-byte X25519 private key.
 * @returns The plaintext, only if the tag verified under `info` and `aad`.
 * @throws {EnvelopeError} `decrypt_failed` for a wrong key, an altered `enc`,
 *   ciphertext, `info` or `aad`, or a malformed `enc`.
 * @throws {RangeError} If the private key is not 32 bytes.
 */
export async function hpkeOpen(
  recipientPrivateKey: Uint8Array,
  enc: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  checkBytes({ recipientPrivateKey, enc, info, aad, ciphertext });
  checkLength(recipientPrivateKey, HPKE_PRIVATE_KEY_BYTES, "recipientPrivateKey");
  const recipientKey = await suite.kem.deserializePrivateKey(copy(recipientPrivateKey));
  try {
    const pt = await suite.open(
      { recipientKey, enc: copy(enc), info: copy(info) },
      copy(ciphertext),
      copy(aad),
    );
    return new Uint8Array(pt);
  } catch (cause) {
    throw new EnvelopeError("decrypt_failed", "cannot decrypt: wrong key or altered data", {
      cause,
    });
  }
}

/**
 * Test hooks, not part of the public API (`mod.ts` does not export them).
 * `sealWithEphemeralIkm` derives the ephemeral key from `ikmE`
 * (DeriveKeyPair) instead of drawing it at random, so tests can reproduce
 * RFC 9180's vectors. Reusing an ephemeral key breaks HPKE; never use it
 * outside tests.
 */
export const _testing = {
  sealWithEphemeralIkm(
    recipientPublicKey: Uint8Array,
    info: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    ikmE: Uint8Array,
  ): Promise<HpkeSealed> {
    return seal(recipientPublicKey, info, aad, plaintext, ikmE);
  },
};

async function seal(
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  ikmE: Uint8Array | undefined,
): Promise<HpkeSealed> {
  checkBytes({ recipientPublicKey, info, aad, plaintext });
  checkLength(recipientPublicKey, HPKE_PUBLIC_KEY_BYTES, "recipientPublicKey");
  const key = await suite.kem.deserializePublicKey(copy(recipientPublicKey));
  let sealed;
  try {
    sealed = await suite.seal(
      ikmE === undefined
        ? { recipientPublicKey: key, info: copy(info) }
        : { recipientPublicKey: key, info: copy(info), ekm: copy(ikmE) },
      copy(plaintext),
      copy(aad),
    );
  } catch (cause) {
    throw new EnvelopeError("bad_recipient_key", "cannot encrypt to this recipient key", {
      cause,
      hint: "the recipient's published key is invalid; ask them to re-register",
    });
  }
  return { enc: new Uint8Array(sealed.enc), ciphertext: new Uint8Array(sealed.ct) };
}

function checkBytes(values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  }
}

function checkLength(value: Uint8Array, length: number, name: string): void {
  if (value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** Copies into a fresh ArrayBuffer, so the library never sees a caller's shared buffer. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
