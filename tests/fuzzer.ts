/**
 * A protocol fuzzer against a running server: mutated handshake frames on
 * raw sockets, then mutated application messages sealed on real channels,
 * before login and after it. Each mutated frame is followed by a `ping`;
 * its `pong` (or the server closing the connection) is the sync point, so a
 * frame the server chokes on, hangs on, or answers with garbage is caught
 * right there. One seed replays the same mutations (see lib/testing/mutate.ts).
 *
 * Used by tests/fuzz_test.ts (a few thousand frames) and scripts/fuzz.ts
 * (`deno task fuzz`, for hours).
 *
 * @module
 */
import { clientHandshake, type SecureChannel } from "../lib/channel/mod.ts";
import {
  ClientState,
  connect,
  login,
  Messenger,
  type PasswordKeys,
  register,
  RpcConnection,
} from "../lib/client/mod.ts";
import { encodeFrame, encodeMessage, FrameReader, writeAll } from "../lib/wire/mod.ts";
import {
  CHUNK_OVERHEAD,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_KDF_PARAMS,
  encodeKdfParams,
} from "../lib/e2e/mod.ts";
import { ClientHandshake, MAX_HANDSHAKE_FRAME_BYTES } from "../lib/handshake/mod.ts";
import { decodeServerMessage, newMessageId, type ServerMessage } from "../lib/protocol/mod.ts";
import {
  mutateBytes,
  mutateMessage,
  Prng,
  until,
  within as withinDeadline,
} from "../lib/testing/mod.ts";
import type { TestServer } from "./harness.ts";
import { type TestUser, textsOf, userSession } from "./users.ts";

/** How long the server may take to answer a sync ping or close: past it, it hangs. */
export const FUZZ_DEADLINE_MS = 15_000;

/** Tries at a new application connection before a refusal counts as a finding. */
const OPEN_ATTEMPTS = 20;
/** Wait between those tries. */
const OPEN_RETRY_MS = 250;

/** A finding: the server hung or answered with something it must not send. */
export class FuzzFailure extends Error {}

/** What one run did. */
export interface FuzzStats {
  /** Mutated frames sent, by phase. */
  frames: { handshake: number; preLogin: number; postLogin: number };
  /** Connections opened (each handshake case is one). */
  connections: number;
  /** Times the server closed an application connection after a frame. */
  closedByServer: number;
  /** Error codes the server replied with, and how often. */
  errors: Record<string, number>;
}

/** Frames to send per phase. */
export interface FuzzCounts {
  handshake: number;
  preLogin: number;
  postLogin: number;
}

/** A registered account to fuzz with after login, and valid messages to mutate. */
export interface FuzzAccount {
  phone: string;
  keys: PasswordKeys;
  /** The token of its first login: later logins are a known device's (§6.9). */
  deviceToken: Uint8Array | null;
  /** Valid messages a logged-in client sends (without `id`: each use gets one). */
  templates: Record<string, unknown>[];
}

/** 127.0.0.1 and a port. */
export interface FuzzTarget {
  hostname: string;
  port: number;
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
function preLoginTemplates(account: FuzzAccount, prng: Prng): Record<string, unknown>[] {
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

/**
 * Sends `counts` mutated frames to the server at `target`, drawing every
 * choice from `prng`. Resolves with what happened; throws FuzzFailure if the
 * server hangs or sends something undecodable. `onFrame` sees each frame
 * before it is sent (to report the last one on a failure).
 */
export async function fuzzServer(
  target: FuzzTarget,
  account: FuzzAccount,
  prng: Prng,
  counts: FuzzCounts,
  onFrame: (phase: string, bytes: Uint8Array) => void = () => {},
): Promise<FuzzStats> {
  const stats: FuzzStats = {
    frames: { handshake: 0, preLogin: 0, postLogin: 0 },
    connections: 0,
    closedByServer: 0,
    errors: {},
  };
  for (let i = 0; i < counts.handshake; i++) {
    stats.connections++;
    await handshakeCase(target, prng, (bytes) => onFrame("handshake", bytes));
    stats.frames.handshake++;
  }
  const phases = [
    ["preLogin", counts.preLogin, () => preLoginTemplates(account, prng)],
    ["postLogin", counts.postLogin, () => account.templates],
  ] as const;
  for (const [phase, count, templates] of phases) {
    let connection: FuzzConnection | null = null;
    try {
      for (let i = 0; i < count; i++) {
        if (!connection) {
          stats.connections++;
          connection = await FuzzConnection.open(
            target,
            stats,
            phase === "postLogin" ? account : null,
          );
        }
        const body = mutatedBody(prng, prng.pick(templates()));
        onFrame(phase, body);
        stats.frames[phase]++;
        if (!await connection.sendAndSync(body)) {
          stats.closedByServer++;
          connection.close();
          connection = null;
        }
      }
    } finally {
      connection?.close();
    }
  }
  return stats;
}

/** A template with a fresh id, mutated as values, as bytes, or both; rarely left valid. */
function mutatedBody(prng: Prng, template: Record<string, unknown>): Uint8Array {
  const message: Record<string, unknown> = { ...template, id: prng.int(2 ** 32) };
  const how = prng.int(10);
  if (how === 0) return encodeMessage(message as unknown as { t: string });
  const value = how <= 4 ? message : mutateMessage(prng, message);
  const bytes = encodeMessage(value as unknown as { t: string });
  return how >= 4 && how <= 7 ? mutateBytes(prng, bytes) : bytes;
}

/** One raw connection: a real handshake up to a chosen message, which is sent mutated. */
async function handshakeCase(
  target: FuzzTarget,
  prng: Prng,
  onFrame: (bytes: Uint8Array) => void,
): Promise<void> {
  const conn = await Deno.connect(target);
  try {
    const machine = new ClientHandshake();
    const reader = new FrameReader(conn, MAX_HANDSHAKE_FRAME_BYTES);
    const stage = prng.int(3);
    let body = machine.clientHello();
    // Up to the stage chosen, the handshake is real; the server may refuse it (then we stop).
    try {
      if (stage >= 1) {
        await writeAll(conn, encodeFrame(body));
        const hello = await within(reader.read(), "server_hello");
        if (!hello) return;
        body = await machine.onServerHello(hello.body);
      }
      if (stage >= 2) {
        await writeAll(conn, encodeFrame(body));
        const auth = await within(reader.read(), "server_auth");
        if (!auth) return;
        body = (await machine.onServerAuth(auth.body)).clientFinished;
      }
    } catch (error) {
      if (error instanceof FuzzFailure) throw error;
      return;
    }
    const bytes = prng.chance(0.3)
      ? mutateBytes(prng, encodeFrame(body))
      : encodeFrame(mutateBytes(prng, body));
    onFrame(bytes);
    try {
      await writeAll(conn, bytes);
      await conn.closeWrite();
    } catch {
      return; // the server closed first
    }
    await within(drain(conn), "the server to close the connection");
  } finally {
    conn.close();
  }
}

/** Reads until the peer closes. */
async function drain(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    while (await conn.read(buffer) !== null) { /* discard */ }
  } catch { /* reset counts as closed */ }
}

/** An application connection that sends raw message bodies on a real channel. */
class FuzzConnection {
  readonly #channel: SecureChannel;
  readonly #stats: FuzzStats;
  #nextSync = 4_000_000_000;

  private constructor(channel: SecureChannel, stats: FuzzStats) {
    this.#channel = channel;
    this.#stats = stats;
  }

  /**
   * Connects, runs a real handshake and, given an account, logs in. A server
   * may turn a connection away for a while under such a flood from one
   * address (a limit, a throttle): that is retried for up to
   * OPEN_ATTEMPTS tries; only a hang, or a refusal that lasts, is a finding.
   */
  static async open(
    target: FuzzTarget,
    stats: FuzzStats,
    account: FuzzAccount | null,
  ): Promise<FuzzConnection> {
    let last: unknown;
    for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, OPEN_RETRY_MS));
      const conn = await Deno.connect(target);
      conn.setNoDelay(true); // a frame and its ping must not wait for Nagle
      let connection: FuzzConnection | null = null;
      try {
        connection = new FuzzConnection(await within(clientHandshake(conn), "handshake"), stats);
        if (account) await connection.#login(account);
        return connection;
      } catch (error) {
        if (error instanceof FuzzFailure) throw error;
        last = error;
        connection?.close();
        conn.close();
      }
    }
    throw new FuzzFailure(`a real client was turned away ${OPEN_ATTEMPTS} times: ${last}`, {
      cause: last,
    });
  }

  /** Logs in with the account's keys (its number is never fuzzed, so never throttled). */
  async #login(account: FuzzAccount): Promise<void> {
    await this.#channel.sendMessage({
      t: "login",
      id: 1,
      phone: account.phone,
      authKey: account.keys.authKey,
      ...(account.deviceToken ? { deviceToken: account.deviceToken } : {}),
    });
    const reply = await this.#until((m) => "id" in m && m.id === 1);
    if (reply?.t !== "login_ok") {
      throw new Error(`login refused: ${reply?.t === "error" ? reply.code : "connection closed"}`);
    }
  }

  /** Sends `body`, then a ping; true once its pong arrives, false if the server closed. */
  async sendAndSync(body: Uint8Array): Promise<boolean> {
    const sync = this.#nextSync++;
    try {
      await this.#channel.send(body);
      await this.#channel.sendMessage({ t: "ping", id: sync });
    } catch (error) {
      if (error instanceof RangeError) return true; // too large for one record: never sent
      return false; // closed
    }
    return await this.#until((m) => m.t === "pong" && m.id === sync) !== null;
  }

  close(): void {
    this.#channel.close();
  }

  /** Reads until `match`; null if the server closed first. */
  async #until(match: (message: ServerMessage) => boolean): Promise<ServerMessage | null> {
    for (;;) {
      let body: Uint8Array | null;
      try {
        body = await within(this.#channel.receive(), "a reply");
      } catch (error) {
        if (error instanceof FuzzFailure) throw error;
        return null;
      }
      if (body === null) return null;
      let message: ServerMessage;
      try {
        message = decodeServerMessage(body);
      } catch (error) {
        throw new FuzzFailure(`the server sent a message its own spec refuses: ${error}`);
      }
      if (message.t === "error") {
        this.#stats.errors[message.code] = (this.#stats.errors[message.code] ?? 0) + 1;
      }
      if (match(message)) return message;
    }
  }
}

/** `promise`, or a FuzzFailure (the server hangs) once FUZZ_DEADLINE_MS pass. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => settled = true);
  try {
    return await withinDeadline(watched, { what, deadlineMs: FUZZ_DEADLINE_MS });
  } catch (error) {
    if (settled) throw error; // the promise's own failure
    throw new FuzzFailure(`${(error as Error).message}: the server hangs`, { cause: error });
  }
}

/** Connection ids the server logged as connected and not yet as gone. */
export function openConnections(server: TestServer): unknown[] {
  const open = new Set<unknown>();
  for (const event of server.events) {
    if (event.event === "connected") open.add(event.conn);
    if (["handshake_failed", "disconnected", "connection_failed"].includes(String(event.event))) {
      open.delete(event.conn);
    }
  }
  return [...open];
}

/** Drops the logged events of connections that have ended: a long run would keep millions. */
export function forgetEndedConnections(server: TestServer): void {
  const open = new Set(openConnections(server));
  const kept = server.events.filter((event) => open.has(event.conn));
  server.events.splice(0, server.events.length, ...kept);
}

/**
 * After a fuzz run: every connection but `staying` of them closes, and a
 * real client logs in again as `sender` (from its own data dir: a known
 * device) and delivers a message to `recipient` (logged in, one of the
 * connections that stay).
 */
export async function assertStillServing(
  server: TestServer,
  sender: TestUser,
  recipient: TestUser,
  staying = 1,
): Promise<void> {
  await until(() => openConnections(server).length === staying, {
    what: "the fuzzer's connections to end",
    deadlineMs: FUZZ_DEADLINE_MS,
  });
  const again = await userSession(server, sender.phone, { dataDir: sender.dataDir });
  try {
    const text = `still there? ${newMessageId()}`;
    await again.session.messenger.send([recipient.phone], { kind: "text", text });
    await until(() => textsOf(recipient.received).includes(text), {
      what: "the message to arrive",
      deadlineMs: FUZZ_DEADLINE_MS,
    });
  } finally {
    again.session.close();
  }
}
