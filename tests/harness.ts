/**
 * Test harness: real servers on real sockets with fresh data dirs, clients
 * with fresh data dirs, and connections whose writes a test can tamper with.
 *
 * @module
 */
import type { AeadSuite } from "../lib/crypto/mod.ts";
import { type DhGroup, namedGroup } from "../lib/crypto/mod.ts";
import type { ChannelOptions, Connection } from "../lib/channel/mod.ts";
import type { AccountLimits, ClusterOptions, LogFields } from "../lib/server/mod.ts";
import {
  loadOrCreateIdentity,
  type RunningServer,
  type ServerConfig,
  startServer,
} from "../lib/server/mod.ts";
import { openEmbeddedStore } from "../lib/store/mod.ts";
import { DiskFileStore } from "../lib/store/disk_files.ts";
import type { FileStore } from "../lib/store/files.ts";
import type { AppendResult, NewEnvelope, Store } from "../lib/store/types.ts";
import { within } from "../lib/testing/mod.ts";

/** A server started for one test. */
export interface TestServer {
  server: RunningServer;
  /** `127.0.0.1:port`. */
  address: string;
  port: number;
  dataDir: string;
  store: Store;
  /** Every event the server logged, in order. */
  events: LogFields[];
  /**
   * Resolves with the first logged event that matches; rejects if none has
   * come within 10 s (or `deadlineMs`).
   */
  waitForEvent(match: (event: LogFields) => boolean, deadlineMs?: number): Promise<LogFields>;
  stop(): Promise<void>;
}

/** Options for a test server. */
export interface TestServerOptions extends
  ChannelOptions,
  Pick<
    ServerConfig,
    | "maxConnectionsPerAddress"
    | "loginTimeoutMs"
    | "maxPreloginFrameBytes"
    | "maxQueuedBytes"
    | "writeTimeoutMs"
    | "maxSessionsPerAccount"
    | "maxDownloads"
    | "uploadLeaseMs"
    | "messageUsage"
    | "ffdhMsPerSecond"
    | "ffdhMsPerAddress"
  > {
  groups?: DhGroup[];
  /** Record suites the server accepts, best first (default: the machine's, §3.2). */
  suites?: AeadSuite[];
  dataDir?: string;
  port?: number;
  maxConnections?: number;
  maxEnvelopeBytes?: number;
  idleTimeoutMs?: number;
  maxFileBytes?: number;
  quotaBytes?: number;
  messageQuotaBytes?: number;
  sendRate?: number;
  accountLimits?: AccountLimits;
  /** A store to use instead of a fresh embedded one in the data dir. */
  store?: Store;
  /** Wraps the store the server uses, e.g. in {@linkcode afterAppend}. */
  wrapStore?: (store: Store) => Store;
  /** A file store to use instead of a fresh one on disk in the data dir. */
  files?: FileStore;
  /** Other servers share the store (see ServerConfig.cluster). */
  cluster?: ClusterOptions;
}

/** Makes a temporary directory removed at the end of `Deno.test` via the returned disposer. */
export async function tempDir(prefix = "ssp-test-"): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}

/** Starts a real server on 127.0.0.1 with its own data dir. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? await tempDir("ssp-server-");
  const identity = await loadOrCreateIdentity(dataDir);
  const opened = options.store ?? await openEmbeddedStore(dataDir);
  const store = options.wrapStore?.(opened) ?? opened;
  const files = options.files ?? await DiskFileStore.open(`${dataDir}/files`);
  const events: LogFields[] = [];
  const waiters: { match: (e: LogFields) => boolean; resolve: (e: LogFields) => void }[] = [];
  const server = startServer({
    ...options,
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    identity,
    store,
    files,
    groups: options.groups ?? [namedGroup("x25519"), namedGroup("ffdhe2048")],
    log: (event) => {
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    },
  });
  return {
    server,
    address: `127.0.0.1:${server.port}`,
    port: server.port,
    dataDir,
    store,
    events,
    waitForEvent(match, deadlineMs) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      const logged = new Promise<LogFields>((resolve) => waiters.push({ match, resolve }));
      return within(logged, {
        what: `a server log event matching ${match}`,
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
      });
    },
    async stop() {
      await server.shutdown();
      if (!options.store) await opened.close();
      if (!options.files) await files.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * `store`, except that each `appendEnvelopes` runs `hook` once the envelopes
 * are committed and resolves only after it: the server acknowledges nothing
 * (and pushes nothing) until the hook is done. A test uses it to act at a
 * known point between a commit and its acknowledgement.
 */
export function afterAppend(
  store: Store,
  hook: (results: AppendResult[]) => Promise<void>,
): Store {
  return new Proxy(store, {
    get(target, key) {
      if (key === "appendEnvelopes") {
        return async (envelopes: NewEnvelope[]) => {
          const results = await target.appendEnvelopes(envelopes);
          await hook(results);
          return results;
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** How a TamperingConnection rewrites one write: returns the bytes to send, in order. */
export type WriteTamper = (bytes: Uint8Array) => Uint8Array[];

/**
 * Wraps a TCP connection so that a test can rewrite what it writes
 * (flip bits, replay, reorder) once the handshake is done.
 */
export class TamperingConnection implements Connection {
  readonly #conn: Deno.Conn;
  /** Set to rewrite the following writes; null passes them through. */
  tamper: WriteTamper | null = null;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.#conn.read(p);
  }

  async write(p: Uint8Array): Promise<number> {
    const outputs = this.tamper ? this.tamper(p.slice()) : [p];
    for (const bytes of outputs) {
      let written = 0;
      while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
    }
    return p.length;
  }

  close(): void {
    this.#conn.close();
  }
}

/** Reads everything until the peer closes (or `limit` bytes), for raw-socket tests. */
export async function readUntilClosed(conn: Deno.Conn, limit = 1 << 20): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(65536);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      break; // reset by peer counts as closed
    }
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    total += n;
    if (total >= limit) break;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
