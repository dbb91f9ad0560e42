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
import { encodeFrame, encodeMessage, FrameReader, writeAll } from "../lib/wire/mod.ts";
import { ClientHandshake, MAX_HANDSHAKE_FRAME_BYTES } from "../lib/handshake/mod.ts";
import { mutateBytes, mutateMessage, type Prng } from "../lib/testing/mod.ts";
import { type FuzzAccount, preLoginTemplates } from "./fuzz_account.ts";
import { FuzzConnection, type FuzzTarget } from "./fuzz_connection.ts";
import { FuzzFailure, within } from "./fuzz_failure.ts";

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
            stats.errors,
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
