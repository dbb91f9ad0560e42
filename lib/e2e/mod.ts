/**
 * End-to-end cryptography: what the server must never be able to read or
 * forge. Password-derived keys ({@linkcode deriveMasterKey}), identity keys
 * and their encrypted backup ({@linkcode sealKeyBackup}), HPKE
 * ({@linkcode hpkeSeal}) and the signed, encrypted message envelope
 * ({@linkcode sealEnvelope}, {@linkcode parseEnvelope}, {@linkcode openEnvelope}),
 * and safety numbers for users to compare ({@linkcode safetyNumber}).
 * Pure functions: no network or file I/O.
 *
 * @module
 */
export {
  checkVerifier,
  decodeKdfParams,
  DEFAULT_KDF_PARAMS,
  deriveMasterKey,
  encodeKdfParams,
  fakeSaltFor,
  type KdfParams,
  KEY_BYTES,
  MIN_PASSWORD_CHARS,
  SALT_BYTES,
  type SplitKeys,
  splitMasterKey,
  verifierOf,
} from "./password.ts";
export {
  generateIdentityKeys,
  type IdentityKeys,
  KEY_BACKUP_SALT_BYTES,
  KEY_BACKUP_VERSION,
  openKeyBackup,
  sealKeyBackup,
} from "./keys.ts";
export {
  type Content,
  decodeContent,
  encodeContent,
  MAX_RECEIPT_IDS,
  MAX_TEXT_BYTES,
  type ReceiptContent,
  type TextContent,
} from "./content.ts";
export {
  ENVELOPE_VERSION,
  type EnvelopeRecipient,
  openEnvelope,
  type OpenEnvelopeOptions,
  type ParsedEnvelope,
  parseEnvelope,
  sealEnvelope,
  type SealEnvelopeOptions,
  type WrappedKey,
} from "./envelope.ts";
export {
  type EncryptionKeyPair,
  generateEncryptionKeyPair,
  HPKE_PRIVATE_KEY_BYTES,
  HPKE_PUBLIC_KEY_BYTES,
  HPKE_TAG_BYTES,
  hpkeOpen,
  hpkeSeal,
  type HpkeSealed,
} from "./hpke.ts";
export { SAFETY_NUMBER_ITERATIONS, safetyNumber, type SafetyNumberParty } from "./safety_number.ts";
export { CONTENT_DECODER_LIMITS, type FileContent } from "./content.ts";
export * from "./stream.ts";
