/**
 * A user's long-term identity keys, and their password-encrypted backup.
 *
 * The backup is what lets a user log in on a new device and still read their
 * history: the server stores the blob, but only the wrap key, derived from
 * the password on the client, can open it.
 *
 * Backup format (all lengths fixed except the ciphertext):
 *
 * ```
 * version (1 byte, = 1) || salt (16 random bytes) || ChaCha20-Poly1305 ciphertext and tag
 * ```
 *
 * with key = HKDF-SHA-256(wrapKey, salt, "ssp/1 key backup"), nonce = 12 zero
 * bytes, aad = version || salt, plaintext = MessagePack of the keys.
 *
 * @module
 */
import { z } from "zod";
import { concatBytes, utf8 } from "../bytes.ts";
import { bytes, decodeMessage, encodeMessage } from "../wire/mod.ts";
import { AuthError } from "../errors.ts";
import {
  chacha20Poly1305Open,
  chacha20Poly1305Seal,
  generateSigningKeyPair,
  hkdfSha256,
  KEY_BYTES,
  NONCE_BYTES,
  sign,
  verify,
} from "../crypto/mod.ts";
import { generateEncryptionKeyPair, hpkeOpen, hpkeSeal } from "./hpke.ts";

/** A user's long-term keys: X25519 to receive messages, Ed25519 to sign them. */
export interface IdentityKeys {
  /** HPKE recipient key pair, both halves raw 32 bytes. */
  encryption: { publicKey: Uint8Array; privateKey: Uint8Array };
  /** Signing key pair: raw 32-byte public key, PKCS #8 private key. */
  signing: { publicKey: Uint8Array; privateKeyPkcs8: Uint8Array };
}

/** Current backup format version, the first byte of every backup. */
export const KEY_BACKUP_VERSION = 1;
/** Length of the random per-backup salt, in bytes. */
export const KEY_BACKUP_SALT_BYTES = 16;

const BACKUP_INFO = utf8("ssp/1 key backup");
const HEADER_BYTES = 1 + KEY_BACKUP_SALT_BYTES;
/** Length of an Ed25519 PKCS #8 private key as WebCrypto exports it. */
const ED25519_PKCS8_BYTES = 48;

const backupPlaintextSchema = z.object({
  t: z.literal("identity_keys"),
  encryptionPublicKey: bytes(32),
  encryptionPrivateKey: bytes(32),
  signingPublicKey: bytes(32),
  signingPrivateKeyPkcs8: bytes(ED25519_PKCS8_BYTES),
});

/** Generates a fresh set of identity keys. */
export async function generateIdentityKeys(): Promise<IdentityKeys> {
  const [encryption, signing] = await Promise.all([
    generateEncryptionKeyPair(),
    generateSigningKeyPair(),
  ]);
  return { encryption, signing };
}

/**
 * Encrypts `keys` under `wrapKey` for the server to store.
 *
 * The nonce is fixed at zero on purpose: each backup draws a fresh random
 * salt, so HKDF gives it a fresh key that encrypts exactly one message, and a
 * (key, nonce) pair never repeats (a 2^-128 salt collision aside).
 *
 * @throws {RangeError} If `wrapKey` is not 32 bytes or a key has the wrong length.
 */
export function sealKeyBackup(wrapKey: Uint8Array, keys: IdentityKeys): Uint8Array {
  checkWrapKey(wrapKey);
  const fields = {
    t: "identity_keys",
    encryptionPublicKey: keys.encryption.publicKey,
    encryptionPrivateKey: keys.encryption.privateKey,
    signingPublicKey: keys.signing.publicKey,
    signingPrivateKeyPkcs8: keys.signing.privateKeyPkcs8,
  } as const;
  const check = backupPlaintextSchema.safeParse(fields);
  if (!check.success) {
    const issue = check.error.issues[0];
    throw new RangeError(`identity keys: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const plaintext = encodeMessage(fields);
  const salt = crypto.getRandomValues(new Uint8Array(KEY_BACKUP_SALT_BYTES));
  const header = concatBytes(Uint8Array.of(KEY_BACKUP_VERSION), salt);
  const key = backupKey(wrapKey, salt);
  const sealed = chacha20Poly1305Seal(key, new Uint8Array(NONCE_BYTES), header, plaintext);
  key.fill(0);
  plaintext.fill(0);
  return concatBytes(header, sealed);
}

/**
 * Decrypts a backup made by {@linkcode sealKeyBackup}, then checks that the
 * restored keys work: that each private key matches its public key.
 *
 * @throws {AuthError} `key_backup_unreadable` for a wrong wrap key (wrong
 *   password) or any altered, truncated or unknown-version backup.
 * @throws {RangeError} If `wrapKey` is not 32 bytes.
 */
export async function openKeyBackup(wrapKey: Uint8Array, blob: Uint8Array): Promise<IdentityKeys> {
  checkWrapKey(wrapKey);
  if (!(blob instanceof Uint8Array)) throw new TypeError("blob must be a Uint8Array");
  if (blob.length < HEADER_BYTES || blob[0] !== KEY_BACKUP_VERSION) throw unreadable();
  const header = blob.subarray(0, HEADER_BYTES);
  const key = backupKey(wrapKey, blob.subarray(1, HEADER_BYTES));
  let plaintext: Uint8Array;
  try {
    plaintext = chacha20Poly1305Open(
      key,
      new Uint8Array(NONCE_BYTES),
      header,
      blob.subarray(HEADER_BYTES),
    );
  } catch (cause) {
    throw unreadable(cause);
  } finally {
    key.fill(0);
  }
  let keys: IdentityKeys;
  try {
    const fields = decodeMessage(backupPlaintextSchema, plaintext, "key backup");
    // The decoder returns views into `plaintext`; copy them out before it is wiped.
    keys = {
      encryption: {
        publicKey: fields.encryptionPublicKey.slice(),
        privateKey: fields.encryptionPrivateKey.slice(),
      },
      signing: {
        publicKey: fields.signingPublicKey.slice(),
        privateKeyPkcs8: fields.signingPrivateKeyPkcs8.slice(),
      },
    };
  } catch (cause) {
    throw unreadable(cause);
  } finally {
    plaintext.fill(0);
  }
  if (!(await keysMatch(keys))) throw unreadable();
  return keys;
}

/**
 * Whether each private key belongs to its public key. The AEAD already rules
 * out tampering; this catches a backup that a buggy client sealed with
 * mismatched halves, before it silently loses messages.
 */
async function keysMatch(keys: IdentityKeys): Promise<boolean> {
  const probe = utf8("ssp/1 key backup self-test");
  try {
    const signature = await sign(keys.signing.privateKeyPkcs8, probe);
    if (!(await verify(keys.signing.publicKey, probe, signature))) return false;
    const sealed = await hpkeSeal(keys.encryption.publicKey, probe, probe, probe);
    await hpkeOpen(keys.encryption.privateKey, sealed.enc, probe, probe, sealed.ciphertext);
    return true;
  } catch {
    return false;
  }
}

function backupKey(wrapKey: Uint8Array, salt: Uint8Array): Uint8Array {
  return hkdfSha256(wrapKey, salt, BACKUP_INFO, KEY_BYTES);
}

function checkWrapKey(wrapKey: Uint8Array): void {
  if (!(wrapKey instanceof Uint8Array)) throw new TypeError("wrapKey must be a Uint8Array");
  if (wrapKey.length !== KEY_BYTES) {
    throw new RangeError(`wrapKey must be ${KEY_BYTES} bytes, got ${wrapKey.length}`);
  }
}

function unreadable(cause?: unknown): AuthError {
  return new AuthError(
    "key_backup_unreadable",
    "cannot decrypt the key backup: wrong password or corrupted backup",
    { cause, hint: "check the password; if it is right, the stored backup is damaged" },
  );
}
