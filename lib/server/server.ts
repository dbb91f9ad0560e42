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
import type { AeadSuite, DhGroup } from "../crypto/mod.ts";
import {
  type AcceptOptions,
  type ChannelOptions,
  type SecureChannel,
  serverHandshake,
} from "../channel/mod.ts";
import { DEFAULT_KDF_PARAMS, encodeKdfParams } from "../e2e/mod.ts";
import { SspError } from "../errors.ts";
import type { Alert, ServerIdentity } from "../handshake/mod.ts";
import { fingerprint, hkdfSha256 } from "../crypto/mod.ts";
import type { StateChain, Store } from "../store/types.ts";
import type { FileStore } from "../store/files.ts";
import {
  DEFAULT_MAX_DOWNLOADS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_QUOTA_BYTES,
  FileWatchers,
} from "./files.ts";
import { utf8 } from "../bytes.ts";
import { encodeFrame, encodeMessage } from "../wire/mod.ts";
import { type AccountLimits, Accounts } from "./accounts.ts";
import { DeviceTokens } from "./device_tokens.ts";
import {
  DEFAULT_FFDH_MS_PER_ADDRESS,
  DEFAULT_FFDH_MS_PER_SECOND,
  FiniteFieldBudget,
} from "./dh_budget.ts";
import { DEFAULT_MESSAGE_QUOTA_BYTES, MessageQuota, type MessageUsage } from "./message_quota.ts";
import { UploadClaims } from "./upload_claims.ts";
import { RateLimiter } from "./rate_limit.ts";
import { MAX_ENVELOPE_BYTES } from "../protocol/mod.ts";
import type { Logger } from "./log.ts";
import { DEFAULT_MAX_SESSIONS_PER_ACCOUNT, OnlineUsers } from "./online.ts";
import {
  ClientSession,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_PRELOGIN_FRAME_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_WRITE_TIMEOUT_MS,
  type SessionContext,
} from "./session.ts";
import { IdleSweep } from "./idle_sweep.ts";
import {
  type CloseConnection,
  ConnectionSlots,
  DEFAULT_LOGIN_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  Slot,
} from "./slots.ts";
import { type ClusterOptions, MailboxSignals } from "./signals.ts";

/** Longest a graceful shutdown waits for in-flight sends to commit. */
const DRAIN_TIMEOUT_MS = 5000;

/**
 * With a shared store, how often a download waiting for an upload on another
 * server re-reads the file's committed count.
 */
const FILE_RECHECK_MS = 250;

/** Default messages one account may send per minute (and at once). */
export const DEFAULT_SEND_RATE = 1200;

/** Everything the server needs; the entry point fills it from flags and environment. */
export interface ServerConfig extends ChannelOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /**
   * Let other processes listen on the same port (Linux SO_REUSEPORT; the
   * kernel spreads connections over them). Needs Deno's `--unstable-net`.
   */
  reusePort?: boolean;
  /** The server's long-term identity key. */
  identity: ServerIdentity;
  /** Groups offered, in order of preference. */
  groups: readonly DhGroup[];
  /** Record suites accepted, in order of preference (default: see ServerHandshakeOptions). */
  suites?: readonly AeadSuite[];
  /** Most simultaneous connections (see ConnectionSlots). */
  maxConnections?: number;
  /** Most simultaneous connections from one address. */
  maxConnectionsPerAddress?: number;
  /** Time a connection has from connecting to a completed login. */
  loginTimeoutMs?: number;
  /** Largest frame accepted before login. */
  maxPreloginFrameBytes?: number;
  /** Bytes queued for one slow reader before its deliveries and requests pause. */
  maxQueuedBytes?: number;
  /** Time queued output may take to drain before a slow reader is dropped. */
  writeTimeoutMs?: number;
  /** Most sessions logged in to one account; a new login closes the oldest. */
  maxSessionsPerAccount?: number;
  /** Most downloads one connection may run at once. */
  maxDownloads?: number;
  /** CPU ms per second all clients together may spend on finite-field key agreement. */
  ffdhMsPerSecond?: number;
  /** CPU ms per second one address may spend on finite-field key agreement. */
  ffdhMsPerAddress?: number;
  /** Where accounts and envelopes live. */
  store: Store;
  /** Where encrypted files live. */
  files: FileStore;
  /** Largest file accepted (ciphertext bytes). */
  maxFileBytes?: number;
  /** Storage quota per account (ciphertext bytes of its uploads). */
  quotaBytes?: number;
  /** Lifetime of an upload's lease in a shared file store, unless renewed (docs/scaling.md). */
  uploadLeaseMs?: number;
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
  /**
   * Set when other servers share `store`: each account's message usage in
   * the database, so the quota holds across servers (message_quota.ts).
   */
  messageUsage?: StateChain<MessageUsage>;
  /** Where events go. */
  log: Logger;
  /**
   * Set when other servers share `store` (docs/scaling.md): deliveries then
   * go through the store, woken by commits, bus signals and polls.
   */
  cluster?: ClusterOptions;
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
  const listener = listen(config);
  const slots = new ConnectionSlots({
    maxConnections: config.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxPerAddress: config.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    loginTimeoutMs: config.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS,
  });
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
  const signals = config.cluster ? new MailboxSignals(config.cluster) : null;
  const online = new OnlineUsers(
    config.maxSessionsPerAccount ?? DEFAULT_MAX_SESSIONS_PER_ACCOUNT,
    signals,
  );
  signals?.attach(online);
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
      config.messageUsage ?? null,
    ),
    online,
    log: config.log,
    maxEnvelopeBytes: config.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES,
    idle: new IdleSweep(config.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
    maxPreloginFrameBytes: config.maxPreloginFrameBytes ?? DEFAULT_MAX_PRELOGIN_FRAME_BYTES,
    maxQueuedBytes: config.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
    writeTimeoutMs: config.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
    files: config.files,
    watchers: new FileWatchers(config.cluster ? FILE_RECHECK_MS : null),
    uploadClaims: new UploadClaims(config.files.leases, config.uploadLeaseMs),
    maxFileBytes: config.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    quotaBytes: config.quotaBytes ?? DEFAULT_QUOTA_BYTES,
    maxDownloads: config.maxDownloads ?? DEFAULT_MAX_DOWNLOADS,
    knownAccounts: new Set(),
    draining: false,
    sendsInFlight: 0,
  };
  const dhBudget = new FiniteFieldBudget({
    msPerSecond: config.ffdhMsPerSecond ?? DEFAULT_FFDH_MS_PER_SECOND,
    msPerAddress: config.ffdhMsPerAddress ?? DEFAULT_FFDH_MS_PER_ADDRESS,
  });
  const open = new Set<Deno.Conn>();
  const running = new Set<Promise<void>>();
  let nextId = 1;
  let stopping = false;

  const acceptLoop = (async () => {
    for await (const conn of listener) {
      const id = nextId++;
      const peer = formatAddress(conn.remoteAddr);
      // Until the handshake is done the peer reads plaintext frames; then alerts are sealed.
      let close: CloseConnection = (code, message) => closeWithPlainAlert(conn, code, message);
      const slot = slots.admit(
        id,
        hostOf(conn.remoteAddr),
        (code, message) => close(code, message),
        (victim) => config.log({ event: "evicted", conn: victim.id, by: id }),
      );
      if (!(slot instanceof Slot)) {
        config.log({
          event: "refused",
          conn: id,
          peer,
          reason: `connection ${slot.refused}`,
        });
        closeWithPlainAlert(
          conn,
          "server_busy",
          `the server is full (connection ${slot.refused}); retry later`,
        );
        continue;
      }
      conn.setNoDelay(true); // small handshake and chat records must not wait for Nagle
      open.add(conn);
      const host = hostOf(conn.remoteAddr);
      // The handshake's options are dropped once it is done: an idle session keeps only what it uses.
      const task = secureConnection(conn, id, peer, {
        ...config,
        admitGroup: (group) => dhBudget.admit(host, group),
      }, context.log).then((channel) => {
        if (channel === null) return;
        close = (code, message) => void channel.closeWithAlert(code, message);
        return serveSession(channel, id, peer, host, slot, context);
      }).finally(() => {
        slot.release();
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
    signals?.close();
    context.idle.close();
  };

  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    fingerprint: fingerprint(config.identity.publicKey),
    shutdown,
    finished: acceptLoop.then(() => Promise.allSettled([...running])).then(() =>
      context.idle.close()
    ),
  };
}

/** Runs the server side of the handshake; null (logged) if it failed. */
async function secureConnection(
  conn: Deno.Conn,
  id: number,
  peer: string,
  options: AcceptOptions,
  log: Logger,
): Promise<SecureChannel | null> {
  log({ event: "connected", conn: id, peer });
  try {
    return await serverHandshake(conn, options);
  } catch (error) {
    log({ event: "handshake_failed", conn: id, peer, ...describe(error) });
    return null;
  }
}

/** Serves the logged-in (or logging-in) client over an established channel until it ends. */
async function serveSession(
  channel: SecureChannel,
  id: number,
  peer: string,
  host: string,
  slot: Slot,
  context: SessionContext,
): Promise<void> {
  const { log } = context;
  log({
    event: "handshake_done",
    conn: id,
    peer,
    version: channel.session.version,
    group: channel.session.group.name,
    suite: channel.session.suite,
  });
  try {
    await new ClientSession(channel, context, host, id, slot).run();
    log({ event: "disconnected", conn: id, peer });
  } catch (error) {
    log({ event: "connection_failed", conn: id, peer, ...describe(error) });
    if (error instanceof SspError) await channel.closeWithAlert(error.code, error.message);
  } finally {
    channel.close();
  }
}

/** Tells a peer that is still reading plaintext frames why it is closed (best effort), then closes. */
function closeWithPlainAlert(conn: Deno.Conn, code: string, message: string): void {
  const frame = encodeFrame(encodeMessage({ t: "alert", code, message } satisfies Alert));
  // A fresh socket's send buffer takes one small frame at once; never wait on a peer that does not read.
  conn.write(frame).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch { /* already closed */ }
  });
}

function listen(config: ServerConfig): Deno.TcpListener {
  if (!config.reusePort) return Deno.listen({ hostname: config.hostname, port: config.port });
  try {
    return Deno.listen({ hostname: config.hostname, port: config.port, reusePort: true });
  } catch (error) {
    if (!/unstable-net/.test(String(error))) throw error;
    throw new SspError("bad_option", "--reuse-port needs Deno's --unstable-net flag", {
      hint: "run with deno run --unstable-net … (deno task start and the compiled binary have it)",
      cause: error,
    });
  }
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof SspError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: "unknown", message: String(error) };
}

function hostOf(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp" ? addr.hostname : addr.transport;
}

function formatAddress(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? `${addr.hostname}:${addr.port}`
    : addr.transport;
}
