/**
 * Idle connections over several servers: 10,000 logged-in connections that
 * then send nothing, spread round robin over 3 `ssp-server` processes that
 * share one FerretDB database and a private nats-server, and the resident
 * memory (VmRSS from /proc/PID/status) of every process before and after.
 *
 * The connections belong to 100 accounts (100 sessions each,
 * `--max-sessions-per-account` raised): FerretDB answers a lookup by `_id` by
 * scanning the collection (docs/mongodb.md), so 10,000 accounts would make
 * the logins measure FerretDB's scans, not the servers' memory. The accounts
 * are registered with raw requests and logged in with their auth keys (no
 * password KDF on the client), each first without and then with its device
 * token. All connections come from 127.0.0.1, so the
 * per-address and total connection limits are raised; at most 16 logins run
 * at once, within the login throttle's allowance for one address. The poll
 * (`--poll-interval`) is set to an hour: a poll reads every session's mailbox,
 * which is load, not idleness (docs/scaling.md).
 *
 * Run with `deno task bench idle`, or alone with
 * `deno run -A scripts/bench/idle.ts` (`SSP_BENCH_CONNECTIONS`,
 * `SSP_BENCH_ACCOUNTS` and `SSP_BENCH_SERVERS` change the counts). Needs
 * `ulimit -n` above the connection count (one descriptor per connection in
 * this process, and in the servers together).
 *
 * @module
 */
import { join } from "node:path";
import { connect, RpcConnection } from "../../lib/client/mod.ts";
import { dropDatabase, startFerretDb } from "../ferretdb.ts";
import { startNats } from "../nats.ts";
import { rawRegistration } from "../../lib/testing/mod.ts";
import { procStats, runQuiet } from "./_procs.ts";
import type { ServerProcess } from "./_server.ts";
import { startServer } from "./scale.ts";

/** Logins running at once: below the 20 an address may have in flight (ADDRESS_POLICY). */
const LOGINS_IN_FLIGHT = 16;
const mib = (n: number) => n.toFixed(0);

/** Registers `count` accounts through one connection; their numbers and auth keys. */
async function register(server: string, dataDir: string, count: number) {
  const rpc = new RpcConnection((await connect({ server, dataDir })).channel);
  try {
    return await Promise.all(Array.from({ length: count }, async (_, i) => {
      const phone = `+1201${String(5_000_000 + i).padStart(7, "0")}`;
      const request = rawRegistration(phone);
      await rpc.request(request);
      return { phone, authKey: request.authKey };
    }));
  } finally {
    rpc.close();
  }
}

/**
 * Opens `count` logged-in connections, connection i to servers[i mod n] as
 * account i mod m. Each account's first login has no device token; the rest
 * send the token it got, as a client that logged in before does (so they
 * skip the number's budget, which the database keeps: docs/security.md).
 */
async function openIdle(
  servers: string[],
  dataDir: string,
  accounts: { phone: string; authKey: Uint8Array }[],
  count: number,
): Promise<RpcConnection[]> {
  const open: RpcConnection[] = [];
  const tokens = new Map<string, Uint8Array>();
  const pool = async (from: number, to: number) => {
    let next = from;
    const worker = async () => {
      while (next < to) {
        const i = next++;
        const { channel } = await connect({
          server: servers[i % servers.length]!,
          dataDir,
          groups: ["x25519"],
        });
        const rpc = new RpcConnection(channel);
        open.push(rpc);
        const { phone, authKey } = accounts[i % accounts.length]!;
        const deviceToken = tokens.get(phone);
        const reply = await rpc.request({
          t: "login",
          phone,
          authKey,
          ...(deviceToken ? { deviceToken } : {}),
        });
        if (reply.t === "login_ok" && reply.deviceToken && !deviceToken) {
          tokens.set(phone, reply.deviceToken);
        }
      }
    };
    await Promise.all(Array.from({ length: LOGINS_IN_FLIGHT }, worker));
  };
  const first = Math.min(accounts.length, count);
  await pool(0, first);
  await pool(first, count);
  return open;
}

/** Measures; returns a Markdown section. */
export async function run(): Promise<string> {
  const connections = Number(Deno.env.get("SSP_BENCH_CONNECTIONS") ?? 10_000);
  const accountCount = Number(Deno.env.get("SSP_BENCH_ACCOUNTS") ?? 100);
  const serverCount = Number(Deno.env.get("SSP_BENCH_SERVERS") ?? 3);
  const sessionsPerAccount = Math.ceil(connections / accountCount);
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-idle-" });
  const dbName = `bench_idle_${Date.now().toString(36)}`;
  const ferret = await startFerretDb();
  const nats = await startNats();
  const procs: ServerProcess[] = [];
  let open: RpcConnection[] = [];
  try {
    const mongo = `${ferret.url.replace(/\/$/, "")}/${dbName}`;
    const flags = [
      ...["--max-connections", String(connections + 100)],
      ...["--max-connections-per-address", String(connections + 100)],
      ...["--max-sessions-per-account", String(Math.min(sessionsPerAccount + 1, 10_000))],
      ...["--registrations-per-address", String(accountCount + 10)],
      ...["--poll-interval", "3600000"],
      ...["--idle-timeout", "3600000"],
    ];
    // One after the other: the first creates the identity key the others load.
    for (let i = 0; i < serverCount; i++) {
      procs.push(await startServer(join(dir, "srv"), mongo, nats.url, flags));
    }
    const servers = procs.map((p) => p.address);
    const accounts = await register(servers[0]!, join(dir, "client"), accountCount);
    await new Promise((r) => setTimeout(r, 2000));
    const pids = [...procs.map((p) => p.proc.pid), ferret.pid!, nats.pid!];
    const before = await Promise.all(pids.map(procStats));
    const start = performance.now();
    open = await openIdle(servers, join(dir, "client"), accounts, connections);
    const seconds = (performance.now() - start) / 1000;
    const afterLogins = await Promise.all(pids.map(procStats));
    await new Promise((r) => setTimeout(r, 10_000)); // idle: let the servers settle
    const after = await Promise.all(pids.map(procStats));
    const load = (await runQuiet("uptime", [])).trim().replace(/^.*load average: /, "");
    const names = [...procs.map((_, i) => `ssp-server ${i + 1}`), "FerretDB", "nats-server"];
    const rows = names.map((name, i) =>
      `| ${name} | ${i < serverCount ? Math.ceil((connections - i) / serverCount) : "—"} | ${
        mib(before[i]!.rssMiB)
      } | ${mib(after[i]!.rssMiB)} | ${mib(after[i]!.rssMiB - before[i]!.rssMiB)} | ${
        mib(after[i]!.pssMiB)
      } | ${(afterLogins[i]!.cpuSeconds - before[i]!.cpuSeconds).toFixed(1)} |`
    );
    const sum = (xs: { rssMiB: number; pssMiB: number }[], key: "rssMiB" | "pssMiB" = "rssMiB") =>
      xs.slice(0, serverCount).reduce((s, x) => s + x[key], 0);
    const per10k = (x: number) => mib(x / connections * 10_000);
    return [
      "## Idle logged-in connections over several servers",
      "",
      `${
        connections.toLocaleString("en")
      } connections (X25519 handshake, then a login) spread over ${serverCount}`,
      `\`ssp-server\` processes sharing one FerretDB database and a nats-server; ${accountCount} accounts, ${sessionsPerAccount}`,
      `sessions each; opened in ${
        seconds.toFixed(0)
      } s, ${LOGINS_IN_FLIGHT} at a time; memory read 10 s after the last login.`,
      `Load average at the end: ${load}.`,
      "",
      "| process | connections | RSS before (MiB) | RSS idle (MiB) | increase (MiB) | PSS idle (MiB) | CPU s for the logins |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      `| **ssp-servers together** | ${connections} | ${mib(sum(before))} | ${mib(sum(after))} | ${
        mib(sum(after) - sum(before))
      } | ${mib(sum(after, "pssMiB"))} | |`,
      "",
      `Total ssp-server RSS per 10,000 connections: ${per10k(sum(after))} MiB (of which ${
        per10k(sum(after) - sum(before))
      } MiB for the connections themselves, the rest the ${serverCount} processes' own footprint).`,
      `PSS, which counts the pages the processes share (the deno binary) once: ${
        per10k(sum(after, "pssMiB"))
      } MiB per 10,000 connections.`,
      "",
    ].join("\n");
  } finally {
    for (const rpc of open) rpc.close();
    for (const p of procs) await p.proc.stop();
    await nats.stop();
    await dropDatabase(ferret.url, dbName).catch(() => {});
    await ferret.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) console.log(await run());
