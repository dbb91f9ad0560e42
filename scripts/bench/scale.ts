/**
 * Scaling out: acknowledged messages/s with 1, 2 and 3 `ssp-server`
 * processes over one FerretDB database and a private nats-server (same run).
 * Six senders in this process, spread over the servers (sender i on server
 * i mod n), send pre-sealed envelopes to one offline recipient with requests
 * in flight; a message counts when its acknowledgement (durable commit)
 * arrives. Also the CPU seconds per 10,000 messages of each component: the
 * ssp servers together, FerretDB and nats-server (user + system time from
 * /proc/PID/stat, read before and after the sends).
 *
 * Run with `deno task bench scale`, or alone with
 * `deno run -A scripts/bench/scale.ts` (`SSP_BENCH_MESSAGES` sets the count per sender).
 *
 * @module
 */
import { join } from "node:path";
import { openSession, type Session } from "../../lib/client/mod.ts";
import { newMessageId } from "../../lib/protocol/mod.ts";
import { dropDatabase, type FerretDb, startFerretDb } from "../ferretdb.ts";
import { type NatsServer, startNats } from "../nats.ts";
import { procStats } from "./_procs.ts";
import { type ServerProcess, startServerProcess } from "./_server.ts";

const SENDERS = 6;
const IN_FLIGHT_PER_SENDER = 64;
const RECIPIENT = "+12015550200";

/**
 * Starts `ssp-server` with `--mongo` and `--bus` (and `flags`) as a child
 * process; resolves once it listens.
 */
export function startServer(
  dir: string,
  mongo: string,
  bus: string,
  flags: string[] = [],
): Promise<ServerProcess> {
  return startServerProcess({ dataDir: dir, flags: ["--mongo", mongo, "--bus", bus, ...flags] });
}

function user(address: string, phone: string, dir: string, mode: "register" | "login") {
  return openSession({
    server: address,
    dataDir: join(dir, phone),
    phone,
    password: "bench password, not secret",
    mode,
  });
}

/** CPU seconds so far of a process that may have gone (0 then). */
async function cpuOf(pid: number | null): Promise<number> {
  return pid === null ? 0 : (await procStats(pid).catch(() => ({ cpuSeconds: 0 }))).cpuSeconds;
}

async function measure(instances: number, count: number, ferret: FerretDb, nats: NatsServer) {
  const [mongoUrl, bus] = [ferret.url, nats.url];
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-scale-" });
  const dbName = `bench_scale_${instances}_${Date.now().toString(36)}`;
  const mongo = `${mongoUrl.replace(/\/$/, "")}/${dbName}`;
  const servers: ServerProcess[] = [];
  const sessions: Session[] = [];
  try {
    // One after the other: the first creates the identity key the others load.
    for (let i = 0; i < instances; i++) {
      servers.push(await startServer(join(dir, "srv"), mongo, bus));
    }
    (await user(servers[0]!.address, RECIPIENT, dir, "register")).close();
    for (let i = 0; i < SENDERS; i++) {
      sessions.push(
        await user(servers[i % instances]!.address, `+1201555030${i}`, dir, "register"),
      );
    }
    const prepared = await Promise.all(sessions.map(async (session) => {
      const out = [];
      for (let i = 0; i < count; i++) {
        const id = newMessageId();
        const sealed = await session.messenger.seal(
          [RECIPIENT],
          { kind: "text", text: `bench message ${i} ${"x".repeat(100)}` },
          id,
        );
        out.push({ id, ...sealed });
      }
      return out;
    }));
    const latencies: number[] = [];
    const cpuBefore = await Promise.all([ferret.pid, nats.pid].map(cpuOf));
    const start = performance.now();
    await Promise.all(sessions.map(async (session, s) => {
      const queue = prepared[s]!;
      let next = 0;
      const worker = async () => {
        while (next < queue.length) {
          const item = queue[next++]!;
          const sent = performance.now();
          await session.rpc.request({
            t: "send",
            messageId: item.id,
            to: item.recipients,
            envelope: item.envelope,
          });
          latencies.push(performance.now() - sent);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT_PER_SENDER }, worker));
    }));
    const end = performance.now();
    const cpuAfter = await Promise.all([ferret.pid, nats.pid].map(cpuOf));
    const total = SENDERS * count;
    const cpu = servers.reduce((sum, s) => sum + s.proc.cpuSecondsBetween(start, end), 0);
    const per10k = (seconds: number) => (seconds / total * 10_000).toFixed(1);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(0.99 * (latencies.length - 1))]!;
    return `| ${instances} | ${SENDERS} × ${IN_FLIGHT_PER_SENDER} | ${total} | ${
      Math.round(total / ((end - start) / 1000)).toLocaleString("en")
    } | ${p99.toFixed(0)} | ${per10k(cpu)} | ${per10k(cpuAfter[0]! - cpuBefore[0]!)} | ${
      per10k(cpuAfter[1]! - cpuBefore[1]!)
    } |`;
  } finally {
    for (const s of sessions) s.close();
    for (const s of servers) await s.proc.stop();
    await dropDatabase(mongoUrl, dbName).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Measures 1, 2 and 3 servers in one run; returns a Markdown section. */
export async function run(): Promise<string> {
  const count = Number(Deno.env.get("SSP_BENCH_MESSAGES") ?? 500);
  const ferret = await startFerretDb();
  const nats = await startNats();
  const rows = [];
  try {
    for (const n of [1, 2, 3]) rows.push(await measure(n, count, ferret, nats));
  } finally {
    await nats.stop();
    await ferret.stop();
  }
  return [
    "## Scaling out: servers over one database",
    "",
    "`ssp-server` processes with `--mongo` (one FerretDB 1.24.2 database, SQLite backend) and",
    "`--bus` (a private nats-server); senders spread over the servers send pre-sealed envelopes to",
    "one offline recipient; a message counts when its acknowledgement (durable commit) arrives.",
    "",
    "CPU seconds per 10,000 messages: user + system time of each component over the sends.",
    "",
    "| servers | senders × requests in flight | messages | acknowledged messages/s | p99 ack latency (ms) | CPU s / 10,000: ssp (all servers) | FerretDB | nats-server |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) console.log(await run());
