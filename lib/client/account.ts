/**
 * Registering, logging in and changing the password, from the client's
 * side: the password is stretched here (scrypt) and split into an auth key,
 * which the server checks, and a wrap key, which never leaves this process
 * and encrypts the account's private keys.
 *
 * @module
 */
import { constantTimeEqual } from "../bytes.ts";
import {
  decodeKdfParams,
  DEFAULT_KDF_PARAMS,
  deriveMasterKey,
  encodeKdfParams,
  generateIdentityKeys,
  type IdentityKeys,
  openKeyBackup,
  SALT_BYTES,
  sealKeyBackup,
  splitMasterKey,
} from "../e2e/mod.ts";
import { AuthError } from "../errors.ts";
import type { RpcConnection } from "./rpc.ts";
import type { ClientState } from "./state.ts";

/** A logged-in account: its number and private keys. */
export interface Account {
  phone: string;
  keys: IdentityKeys;
}

async function stretch(password: string, salt: Uint8Array, kdf: string) {
  return splitMasterKey(await deriveMasterKey(password, salt, decodeKdfParams(kdf)));
}

/** The two keys stretched from a password; kept only in memory. */
export interface PasswordKeys {
  authKey: Uint8Array;
  wrapKey: Uint8Array;
}

/**
 * Creates an account for `phone` with new identity keys. Returns the
 * stretched password keys too, so logging in right after costs no second
 * (deliberately slow) key derivation.
 */
export async function register(
  rpc: RpcConnection,
  state: ClientState,
  phone: string,
  password: string,
): Promise<PasswordKeys> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const kdf = encodeKdfParams(DEFAULT_KDF_PARAMS);
  const { authKey, wrapKey } = await stretch(password, salt, kdf);
  const keys = await generateIdentityKeys();
  const keyBackup = sealKeyBackup(wrapKey, keys);
  await rpc.request({
    t: "register",
    phone,
    salt,
    kdf,
    authKey,
    encryptionKey: keys.encryption.publicKey,
    signingKey: keys.signing.publicKey,
    keyBackup,
  });
  state.saveLocalAccount({ phone, kdfSalt: salt, kdfParams: kdf, keyBackup });
  return { authKey, wrapKey };
}

/**
 * Logs in and restores the account's private keys from the server's
 * encrypted backup (so a new machine needs only the number and password).
 */
export async function login(
  rpc: RpcConnection,
  state: ClientState,
  phone: string,
  password: string | PasswordKeys,
): Promise<Account> {
  const { salt, kdf } = await rpc.request({ t: "prelogin", phone });
  const { authKey, wrapKey } = typeof password === "string"
    ? await stretch(password, salt, kdf)
    : password;
  // A token from an earlier login marks this as a known device, which a
  // guesser's failures for this number do not lock out (§6.9).
  const serverKey = rpc.channel.session.serverIdentity;
  const deviceToken = state.deviceToken(serverKey, phone);
  const reply = await rpc.request({
    t: "login",
    phone,
    authKey,
    ...(deviceToken ? { deviceToken } : {}),
  });
  const keys = await openKeyBackup(wrapKey, reply.keyBackup);
  if (
    !constantTimeEqual(keys.encryption.publicKey, reply.encryptionKey) ||
    !constantTimeEqual(keys.signing.publicKey, reply.signingKey)
  ) {
    throw new AuthError(
      "key_mismatch",
      "the server's copy of your public keys does not match your key backup",
      { hint: "the server may be misbehaving; do not send messages through it" },
    );
  }
  state.saveLocalAccount({ phone, kdfSalt: salt, kdfParams: kdf, keyBackup: reply.keyBackup });
  if (reply.deviceToken) state.saveDeviceToken(serverKey, phone, reply.deviceToken);
  return { phone, keys };
}

/** Changes the password: new salt and auth key, the same keys re-wrapped. */
export async function changePassword(
  rpc: RpcConnection,
  state: ClientState,
  account: Account,
  oldPassword: string,
  newPassword: string,
): Promise<void> {
  const { salt: oldSalt, kdf: oldKdf } = await rpc.request({ t: "prelogin", phone: account.phone });
  const old = await stretch(oldPassword, oldSalt, oldKdf);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const kdf = encodeKdfParams(DEFAULT_KDF_PARAMS);
  const { authKey, wrapKey } = await stretch(newPassword, salt, kdf);
  const keyBackup = sealKeyBackup(wrapKey, account.keys);
  const reply = await rpc.request({
    t: "change_password",
    oldAuthKey: old.authKey,
    salt,
    kdf,
    authKey,
    keyBackup,
  });
  state.saveLocalAccount({ phone: account.phone, kdfSalt: salt, kdfParams: kdf, keyBackup });
  // The change ended the device's earlier token (§6.9); keep the new one.
  if (reply.deviceToken) {
    state.saveDeviceToken(rpc.channel.session.serverIdentity, account.phone, reply.deviceToken);
  }
}
