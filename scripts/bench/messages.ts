/**
 * Message throughput of the whole server: a real `ssp-server` process (on
 * the embedded store, then on MongoDB via FerretDB), and clients in this
 * process sending pre-sealed end-to-end envelopes over the secure channel
 * with many requests in flight, counting acknowledgements (each one means
 * the envelope is durably committed). Sealing happens before the clock
 * starts: the figure is the server's, not the senders'.
 *
 * Run with `deno task bench messages`, or alone with
 * `deno run -A scripts/bench/messages.ts` (`SSP_BENCH_MESSAGES` sets the count;
 * `SSP_BENCH_SERVER_FLAGS` adds Deno flags to the server's command line, e.g.
 * `--v8-flags=--prof,--logfile=/tmp/server.log,--no-logfile-per-isolate`).
 *
 * @module
 */
import { join } from "node:path";
import { openSession, type Session } from "../../lib/client/mod.ts";
import { newMessageId } from "../../lib/protocol/mod.ts";
import { startFerretDb } from "../ferretdb.ts";
import { peak, type Send } from "./_load.ts";
import { type ServerProcess, startServerProcess } from "./_server.ts";

/** Sending connections (one account each). */
export const SENDERS = 4;
/** Unacknowledged sends each connection keeps in flight. */
export const IN_FLIGHT_PER_SENDER = 256;
/** The one recipient of every message; offline, so every message is stored. */
export const RECIPIENT = "+12015550200";

/** Starts a real `ssp-server` process in `dir` on a free port (on MongoDB at `mongo` if given). */
export function startServer(dir: string, mongo?: string): Promise<ServerProcess> {
  return startServerProcess({
    dataDir: dir,
    // E.g. `--v8-flags=--prof` to profile the server.
    denoFlags: [
      "-A",
      ...(Deno.env.get("SSP_BENCH_SERVER_FLAGS")?.split(" ").filter(Boolean) ?? []),
    ],
    // Throughput, not the per-account policy: lift the send rate.
    flags: ["--send-rate", "1000000000", ...(mongo ? ["--mongo", mongo] : [])],
  });
}

/** Registers `phone` on the server at `address` and opens its session. */
export async function user(address: string, phone: string, dir: string): Promise<Session> {
  return await openSession({
    server: address,
    dataDir: join(dir, phone),
    phone,
    password: "bench password, not secret",
    mode: "register",
  });
}

/** A message sealed before the clock starts. */
export interface Prepared {
  id: string;
  recipients: string[];
  envelope: Uint8Array;
}

/** Seals `count` text messages (~100 characters) from `session` to {@linkcode RECIPIENT}. */
export async function prepare(session: Session, count: number): Promise<Prepared[]> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const id = newMessageId();
    const { recipients, envelope } = await session.messenger.seal(
      [RECIPIENT],
      { kind: "text", text: `bench message ${i} ${"x".repeat(100)}` },
      id,
    );
    out.push({ id, recipients, envelope });
  }
  return out;
}

/** A {@linkcode Send} that sends `queue[i]` on `session` and waits for its durable ack. */
export function sender(session: Session, queue: Prepared[]): Send {
  return async (i) => {
    const item = queue[i]!;
    await session.rpc.request({
      t: "send",
      messageId: item.id,
      to: item.recipients,
      envelope: item.envelope,
    });
  };
}

/** Sends `count` messages from each sender, `IN_FLIGHT_PER_SENDER` at a time; returns msg/s. */
async function blast(senders: Session[], count: number): Promise<number> {
  const prepared = await Promise.all(senders.map((session) => prepare(session, count)));
  const sends = senders.map((session, s) => sender(session, prepared[s]!));
  return (await peak(sends, count, IN_FLIGHT_PER_SENDER)).perSecond;
}

async function measure(label: string, count: number, mongo?: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-msg-" });
  const { proc, address } = await startServer(join(dir, "server"), mongo);
  try {
    const recipient = await user(address, RECIPIENT, dir);
    recipient.close(); // offline: everything is stored for later delivery
    const senders = [];
    for (let i = 0; i < SENDERS; i++) senders.push(await user(address, `+1201555030${i}`, dir));
    const rate = await blast(senders, count);
    for (const s of senders) s.close();
    return `| ${label} | ${SENDERS} × ${IN_FLIGHT_PER_SENDER} | ${SENDERS * count} | ${
      Math.round(rate).toLocaleString("en")
    } |`;
  } finally {
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Measures the embedded store and FerretDB; returns a Markdown section. */
export async function run(): Promise<string> {
  const count = Number(Deno.env.get("SSP_BENCH_MESSAGES") ?? 5000);
  const rows = [await measure("embedded (SQLite)", count)];
  const ferret = await startFerretDb();
  try {
    rows.push(
      await measure("MongoDB (FerretDB 1.24.2, SQLite backend)", count, `${ferret.url}bench`),
    );
  } finally {
    await ferret.stop();
  }
  return [
    "## Server message throughput",
    "",
    "A real `ssp-server` process; senders in one process send pre-sealed envelopes (1 recipient,",
    "~600 bytes) with requests in flight; a message counts when its acknowledgement (durable",
    "commit) arrives. The recipient is offline, so every message is stored for later delivery.",
    "",
    "| store | senders × requests in flight | messages | acknowledged messages/s |",
    "| --- | --- | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) console.log(await run());
