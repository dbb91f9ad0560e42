/**
 * The fuzzer's material: a registered account to fuzz with after login, and
 * the valid messages (before and after login) that the fuzzer mutates.
 *
 * @module
 */
import {
  ClientState,
  connect,
  login,
  Messenger,
  type PasswordKeys,
  register,
  RpcConnection,
} from "../lib/client/mod.ts";
import {
  CHUNK_OVERHEAD,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_KDF_PARAMS,
  encodeKdfParams,
} from "../lib/e2e/mod.ts";
import { newMessageId } from "../lib/protocol/mod.ts";
import type { Prng } from "../lib/testing/mod.ts";

/** A registered account to fuzz with after login, and valid messages to mutate. */
export interface FuzzAccount {
  phone: string;
  keys: PasswordKeys;
  /** The token of its first login: later logins are a known device's (§6.9). */
  deviceToken: Uint8Array | null;
  /** Valid messages a logged-in client sends (without `id`: each use gets one). */
  templates: Record<string, unknown>[];
}

/** Numbers the pre-login phase uses; never the fuzzing account's, so its logins stay unthrottled. */
const DECOY = "+12015559901";
const DECOY_NEW = "+12015559902";

/**
 * Registers `phone` (a friend, `peer`, must exist) and builds the post-login
 * templates: a sealed message, a sealed file announcement and every request.
 */
export async function setUpFuzzAccount(
  address: string,
  dataDir: string,
  phone: string,
  peer: string,
): Promise<FuzzAccount> {
  const connection = await connect({ server: address, dataDir });
  const rpc = new RpcConnection(connection.channel);
  const state = await ClientState.open(dataDir, phone);
  try {
    const keys = await register(rpc, state, phone, "fuzzing is a fine pastime");
    const account = await login(rpc, state, phone, keys);
    const messenger = new Messenger(rpc, state, account);
    const messageId = newMessageId();
    const { envelope } = await messenger.seal([peer], { kind: "text", text: "fuzz" }, messageId);
    const fileId = newMessageId();
    const announceId = newMessageId();
    const announcement = await messenger.seal([peer], {
      kind: "file",
      fileId,
      name: "fuzz.bin",
      size: 1000,
      chunkBytes: DEFAULT_CHUNK_BYTES,
      key: new Uint8Array(32),
    }, announceId);
    const chunkBytes = DEFAULT_CHUNK_BYTES + CHUNK_OVERHEAD;
    const templates: Record<string, unknown>[] = [
      { t: "ping" },
      { t: "get_keys", phones: [peer, phone] },
      { t: "send", to: [peer], messageId, envelope },
      { t: "ack", seq: 1 },
      { t: "history", with: [peer], limit: 10 },
      {
        t: "file_begin",
        fileId,
        cipherSize: 1000 + CHUNK_OVERHEAD,
        chunkBytes,
        chunks: 1,
        readers: [peer],
        messageId: announceId,
        envelope: announcement.envelope,
      },
      { t: "file_chunk", fileId, index: 0, data: new Uint8Array(1000 + CHUNK_OVERHEAD) },
      { t: "file_end", fileId },
      { t: "file_get", fileId, from: 0 },
      { t: "file_list" },
      {
        t: "file_share",
        fileId,
        readers: [peer],
        messageId: announceId,
        envelope: announcement.envelope,
      },
      { t: "file_delete", fileId },
    ];
    const deviceToken = state.deviceToken(connection.channel.session.serverIdentity, phone);
    return { phone, keys, deviceToken, templates };
  } finally {
    rpc.close();
    state.close();
  }
}

/** Messages a client sends before login (the post-login ones are tried too: not_logged_in). */
export function preLoginTemplates(account: FuzzAccount, prng: Prng): Record<string, unknown>[] {
  return [
    { t: "ping" },
    { t: "prelogin", phone: DECOY },
    { t: "login", phone: DECOY, authKey: prng.bytes(32) },
    {
      t: "register",
      phone: DECOY_NEW,
      salt: prng.bytes(16),
      kdf: encodeKdfParams(DEFAULT_KDF_PARAMS),
      authKey: prng.bytes(32),
      encryptionKey: prng.bytes(32),
      signingKey: prng.bytes(32),
      keyBackup: prng.bytes(120),
    },
    ...account.templates,
  ];
}
