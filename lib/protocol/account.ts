/**
 * Account messages (docs/protocol.md §6): the password never leaves the
 * client; it sends an auth key derived from it, and the server keeps only a
 * salted hash of that key.
 *
 * @module
 */
import { z } from "zod";
import { bytes } from "../wire/mod.ts";
import { phone, requestId } from "./common.ts";

/** Bytes of the client's KDF salt. */
export const KDF_SALT_BYTES = 16;

/** Bytes of the auth key derived from the password. */
export const AUTH_KEY_BYTES = 32;

/** Longest KDF description (`kdf`: the client's password KDF and its parameters), in characters. */
export const MAX_KDF_CHARS = 256;

/** Largest encrypted key backup accepted. */
export const MAX_KEY_BACKUP_BYTES = 4096;

/** Client → server: which salt and KDF to use for this number (asked before login). */
export const Prelogin = z.object({ t: z.literal("prelogin"), id: requestId, phone });
/** Client → server: asks for the KDF salt. */
export type Prelogin = z.infer<typeof Prelogin>;

/** Server → client: the salt and KDF parameters (fake but stable for unknown numbers). */
export const PreloginReply = z.object({
  t: z.literal("prelogin_ok"),
  id: requestId,
  salt: bytes(KDF_SALT_BYTES),
  kdf: z.string().max(MAX_KDF_CHARS),
});
/** Server → client: the KDF salt and parameters. */
export type PreloginReply = z.infer<typeof PreloginReply>;

/** Client → server: creates an account. */
export const Register = z.object({
  t: z.literal("register"),
  id: requestId,
  phone,
  salt: bytes(KDF_SALT_BYTES),
  kdf: z.string().max(MAX_KDF_CHARS),
  authKey: bytes(AUTH_KEY_BYTES),
  encryptionKey: bytes(32),
  signingKey: bytes(32),
  keyBackup: bytes(1, MAX_KEY_BACKUP_BYTES),
});
/** Client → server: creates an account. */
export type Register = z.infer<typeof Register>;

/** Bytes of a device token (§6.9). */
export const DEVICE_TOKEN_BYTES = 32;

/** Client → server: logs in with the auth key (and the device token of an earlier login). */
export const Login = z.object({
  t: z.literal("login"),
  id: requestId,
  phone,
  authKey: bytes(AUTH_KEY_BYTES),
  deviceToken: bytes(DEVICE_TOKEN_BYTES).optional(),
});
/** Client → server: logs in. */
export type Login = z.infer<typeof Login>;

/** Server → client: login accepted; the account's public keys and encrypted key backup. */
export const LoginReply = z.object({
  t: z.literal("login_ok"),
  id: requestId,
  encryptionKey: bytes(32),
  signingKey: bytes(32),
  keyBackup: bytes(1, MAX_KEY_BACKUP_BYTES),
  /** A token to send with later logins to this number (§6.9); absent from older servers. */
  deviceToken: bytes(DEVICE_TOKEN_BYTES).optional(),
});
/** Server → client: login accepted. */
export type LoginReply = z.infer<typeof LoginReply>;

/** Client → server (logged in): new password; the key backup re-wrapped under the new wrap key. */
export const ChangePassword = z.object({
  t: z.literal("change_password"),
  id: requestId,
  oldAuthKey: bytes(AUTH_KEY_BYTES),
  salt: bytes(KDF_SALT_BYTES),
  kdf: z.string().max(MAX_KDF_CHARS),
  authKey: bytes(AUTH_KEY_BYTES),
  keyBackup: bytes(1, MAX_KEY_BACKUP_BYTES),
});
/** Client → server: changes the password. */
export type ChangePassword = z.infer<typeof ChangePassword>;
