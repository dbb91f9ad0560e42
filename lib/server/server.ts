/**
 * The ssp server: accepts TCP connections, runs the handshake on each with
 * a time limit, then serves application messages until the peer leaves.
 *
 * A misbehaving client only ever loses its own connection: every error is
 * caught per connection, logged, answered with an alert where possible, and
 * the accept loop carries on.
 *
 * @module
 */
import type { DhGroup } from "../dh.ts";
import type { AeadSuite } from "../aead_backend.ts";
import { type ChannelOptions, type SecureChannel, serverHandshake } from "../channel.ts";
import { DEFAULT_KDF_PARAMS, encodeKdfParams } from "../e2e/password.ts";
import { SspError } from "../errors.ts";
import type { ServerIdentity } from "../handshake/mod.ts";
import { hkdfSha256 } from "../kdf.ts";
import { fingerprint } from "../sign.ts";
import type { Store } from "../store/types.ts";
import type { FileStore } from "../store/files.ts";
import { DEFAULT_MAX_FILE_BYTES, DEFAULT_QUOTA_BYTES, FileWatchers } from "./files.ts";
import { utf8 } from "../bytes.ts";
import { type AccountLimits, Accounts } from "./accounts.ts";
import { DeviceTokens } from "./device_tokens.ts";
import { DEFAULT_MESSAGE_QUOTA_BYTES, MessageQuota } from "./message_quota.ts";
import { RateLimiter } from "./rate_limit.ts";
import { MAX_ENVELOPE_BYTES } from "../protocol/mod.ts";
import type { Logger } from "./log.ts";
import { OnlineUsers } from "./online.ts";
import { ClientSession, DEFAULT_IDLE_TIMEOUT_MS, type SessionContext } from "./session.ts";

/** Longest a graceful shutdown waits for in-flight sends to commit. */
const DRAIN_TIMEOUT_MS = 5000;

/** Default most simultaneous connections. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** Default messages one account may send per minute (and at once). */
export const DEFAULT_SEND_RATE = 1200;

/** Everything the server needs; the entry point fills it from flags and environment. */
export interface ServerConfig extends ChannelOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** The server's long-term identity key. */
  identity: ServerIdentity;
  /** Groups offered, in order of preference. */
  groups: readonly DhGroup[];
  /** Record suites accepted, in order of preference (default: see ServerHandshakeOptions). */
  suites?: readonly AeadSuite[];
  /** Most simultaneous connections; more are closed at once. */
  maxConnections?: number;
  /** Where accounts and envelopes live. */
  store: Store;
  /** Where encrypted files live. */
  files: FileStore;
  /** Largest file accepted (ciphertext bytes). */
  maxFileBytes?: number;
  /** Storage quota per account (ciphertext bytes of its uploads). */
  quotaBytes?: number;
  /** Largest envelope (one message) accepted, in bytes. */
  maxEnvelopeBytes?: number;
  /** Close connections that send nothing for this long (after the handshake). */
  idleTimeoutMs?: number;
  /** Login throttle table sizes and registration limits. */
  accountLimits?: AccountLimits;
  /** Messages one account may send per minute (and at once). */
  sendRate?: number;
  /** Bytes of envelopes one account may store. */
  messageQuotaBytes?: number;
  /** Where events go. */
  log: Logger;
}

/** A running server. */
export interface RunningServer {
  /** The port actually listened on. */
  port: number;
  /** The identity key's fingerprint. */
  fingerprint: string;
  /** Stops accepting, closes every connection and waits for them to finish. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Starts listening and serving; resolves once the socket is bound. */
export function startServer(config: ServerConfig): RunningServer {
  const listener = Deno.listen({ hostname: config.hostname, port: config.port });
  const maxConnections = config.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // Fake salts for unknown numbers must be stable across restarts and secret:
  // derive their key from the identity key instead of keeping another file.
  const secret = hkdfSha256(
    config.identity.privateKeyPkcs8,
    new Uint8Array(),
    utf8("ssp/1 fake salt key"),
    32,
  );
  const tokenKey = hkdfSha256(
    config.identity.privateKeyPkcs8,
    new Uint8Array(),
    utf8("ssp/1 device token key"),
    32,
  );
  const sendRate = config.sendRate ?? DEFAULT_SEND_RATE;
  const context: SessionContext = {
    store: config.store,
    accounts: new Accounts(
      config.store,
      secret,
      encodeKdfParams(DEFAULT_KDF_PARAMS),
      new DeviceTokens(tokenKey),
      config.accountLimits,
    ),
    sendRate: new RateLimiter({ perPeriod: sendRate, periodMs: 60_000, maxEntries: 100_000 }),
    messageQuota: new MessageQuota(
      config.store,
      config.messageQuotaBytes ?? DEFAULT_MESSAGE_QUOTA_BYTES,
    ),
    online: new OnlineUsers(),
    log: config.log,
    maxEnvelopeBytes: config.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES,
    idleTimeoutMs: config.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    files: config.files,
    watchers: new FileWatchers(),
    activeUploads: new Set(),
    maxFileBytes: config.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    quotaBytes: config.quotaBytes ?? DEFAULT_QUOTA_BYTES,
    knownAccounts: new Set(),
    draining: false,
    sendsInFlight: 0,
  };
  const open = new Set<Deno.Conn>();
  const running = new Set<Promise<void>>();
  let nextId = 1;
  let stopping = false;

  const acceptLoop = (async () => {
    for await (const conn of listener) {
      const id = nextId++;
      const peer = formatAddress(conn.remoteAddr);
      if (open.size >= maxConnections) {
        config.log({ event: "refused", conn: id, peer, reason: "too many connections" });
        conn.close();
        continue;
      }
      conn.setNoDelay(true); // small handshake and chat records must not wait for Nagle
      open.add(conn);
      const task = serveConnection(conn, id, peer, config, context).finally(() => {
        open.delete(conn);
        running.delete(task);
      });
      running.add(task);
    }
  })().catch((error) => {
    if (!stopping) config.log({ event: "accept_failed", message: String(error) });
  });

  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    listener.close();
    // Refuse new requests, let sends already handed to the store commit and be acknowledged.
    context.draining = true;
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (context.sendsInFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    await acceptLoop;
    await Promise.allSettled([...running]);
  };

  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    fingerprint: fingerprint(config.identity.publicKey),
    shutdown,
    finished: acceptLoop.then(() => Promise.allSettled([...running])).then(() => {}),
  };
}

async function serveConnection(
  conn: Deno.Conn,
  id: number,
  peer: string,
  config: ServerConfig,
  context: SessionContext,
): Promise<void> {
  const { log } = config;
  log({ event: "connected", conn: id, peer });
  let channel: SecureChannel;
  try {
    channel = await serverHandshake(conn, config);
  } catch (error) {
    log({ event: "handshake_failed", conn: id, peer, ...describe(error) });
    return;
  }
  log({
    event: "handshake_done",
    conn: id,
    peer,
    version: channel.session.version,
    group: channel.session.group.name,
    suite: channel.session.suite,
  });
  try {
    const address = peer.slice(0, peer.lastIndexOf(":"));
    await new ClientSession(channel, context, address, id).run();
    log({ event: "disconnected", conn: id, peer });
  } catch (error) {
    log({ event: "connection_failed", conn: id, peer, ...describe(error) });
    if (error instanceof SspError) await channel.closeWithAlert(error.code, error.message);
  } finally {
    channel.close();
  }
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof SspError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: "unknown", message: String(error) };
}

function formatAddress(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? `${addr.hostname}:${addr.port}`
    : addr.transport;
}
