/**
 * Handshake cost per key-agreement group: the pure state machines in memory
 * (CPU cost of one handshake, both sides), and full connections to a real
 * server over loopback (connect + handshake + one ping, client and server in
 * one process, so the figure is the whole machine's cost per connection).
 *
 * Then new secure connections per second against `openssl s_time` in the same
 * run: a real `ssp-server` process and sequential X25519 connections from this
 * process (connect, handshake, one ping, close), against `openssl s_time -new`
 * (full TLS 1.3 handshakes, no resumption, one `GET` and its answer) to an
 * `openssl s_server` limited to TLS 1.3 and X25519, with a throw-away Ed25519
 * certificate (ssp's identity key is Ed25519 too) and no session tickets.
 * Both sides are two processes; the CPU time of both is counted.
 *
 * Run with `deno task bench handshake`, or alone with
 * `deno run -A scripts/bench/handshake.ts`. Environment:
 * `SSP_BENCH_CONNECT_SECONDS` (each peer of the s_time comparison, default 10),
 * `SSP_BENCH_GROUPS` (comma-separated groups of the first table, default all;
 * `none` skips it).
 *
 * @module
 */
import { join } from "node:path";
import { clientHandshake } from "../../lib/channel/mod.ts";
import { ping } from "../../lib/client/mod.ts";
import {
  aeadBackend,
  type DhGroup,
  generateSigningKeyPair,
  namedGroup,
} from "../../lib/crypto/mod.ts";
import { ClientHandshake, ServerHandshake } from "../../lib/handshake/mod.ts";
import { silentLogger, startServer } from "../../lib/server/mod.ts";
import { openEmbeddedStore } from "../../lib/store/mod.ts";
import { DiskFileStore } from "../../lib/store/disk_files.ts";
import { median } from "./_sample.ts";
import { ownCpuSeconds } from "./_load.ts";
import { selfSignedCert, waitForPort } from "./_anchors.ts";
import { available, freePort, Proc } from "./_procs.ts";
import { startServer as startServerProcess } from "./messages.ts";

const GROUPS = ["x25519", "ffdhe2048", "ffdhe3072", "ffdhe4096"] as const;
/** Each cell runs for about this long. */
const CELL_MS = 2000;

async function inMemory(
  group: DhGroup,
  identity: Awaited<ReturnType<typeof generateSigningKeyPair>>,
) {
  const times: number[] = [];
  const until = performance.now() + CELL_MS;
  while (performance.now() < until || times.length < 3) {
    const start = performance.now();
    const client = new ClientHandshake({ groups: [group.name] });
    const server = new ServerHandshake({ identity, groups: [group] });
    const share = await client.onServerHello(await server.onClientHello(client.clientHello()));
    const { clientFinished } = await client.onServerAuth(await server.onClientShare(share));
    server.onClientFinished(clientFinished);
    times.push(performance.now() - start);
  }
  return median(times);
}

async function overLoopback(
  group: DhGroup,
  identity: Awaited<ReturnType<typeof generateSigningKeyPair>>,
) {
  const dataDir = await Deno.makeTempDir({ prefix: "ssp-bench-" });
  const store = await openEmbeddedStore(dataDir);
  const files = await DiskFileStore.open(`${dataDir}/files`);
  const server = startServer({
    store,
    files,
    hostname: "127.0.0.1",
    port: 0,
    identity,
    groups: [group],
    // The bench measures what a handshake costs, not the rationing of finite-field work.
    ffdhMsPerSecond: 1000,
    ffdhMsPerAddress: 1000,
    log: silentLogger,
  });
  let count = 0;
  const cpuStart = ownCpuSeconds();
  const start = performance.now();
  try {
    while (performance.now() - start < CELL_MS || count < 3) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      conn.setNoDelay(true);
      const channel = await clientHandshake(conn, { groups: [group.name] });
      await ping(channel, 1);
      channel.close();
      count++;
    }
  } finally {
    await server.shutdown();
    await store.close();
    await files.close();
    await Deno.remove(dataDir, { recursive: true });
  }
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: count / seconds, cpuMs: (ownCpuSeconds() - cpuStart) / count * 1000 };
}

/** One peer of the s_time comparison. */
interface ConnectResult {
  connections: number;
  seconds: number;
  /** CPU seconds of client and server together. */
  cpu: number;
}

/** Sequential X25519 connections (connect, handshake, ping, close) to a real ssp-server process. */
async function sspConnections(seconds: number): Promise<ConnectResult> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-connect-" });
  const { proc, address } = await startServerProcess(join(dir, "server"));
  const [hostname, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  try {
    let connections = 0;
    const cpuStart = ownCpuSeconds();
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      const conn = await Deno.connect({ hostname, port });
      conn.setNoDelay(true);
      const channel = await clientHandshake(conn, { groups: ["x25519"] });
      await ping(channel, 1);
      channel.close();
      connections++;
    }
    const end = performance.now();
    const clientCpu = ownCpuSeconds() - cpuStart;
    await new Promise((r) => setTimeout(r, 100)); // let the sampler see the end
    const cpu = clientCpu + proc.cpuSecondsBetween(start, end);
    return { connections, seconds: (end - start) / 1000, cpu };
  } finally {
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** `openssl s_time -new` against `openssl s_server` (TLS 1.3, X25519, Ed25519), or why not. */
async function opensslConnections(seconds: number): Promise<ConnectResult | string> {
  if (!await available("openssl")) return "openssl not installed";
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-s_time-" });
  try {
    await selfSignedCert(dir, ["-newkey", "ed25519"]);
    await Deno.writeTextFile(join(dir, "ping"), "pong\n");
    const port = freePort();
    // -WWW serves files from the working directory: the answer to `GET /ping` is 5 bytes.
    const server = new Proc("sh", [
      "-c",
      `cd '${dir}' && exec openssl s_server -accept 127.0.0.1:${port} -cert cert.pem -key key.pem -tls1_3 -groups X25519 -num_tickets 0 -WWW -quiet`,
    ], { stdin: "piped", stdout: "null" });
    try {
      await waitForPort(port);
      const client = new Proc("openssl", [
        "s_time",
        "-connect",
        `127.0.0.1:${port}`,
        "-new",
        "-tls1_3",
        "-www",
        "/ping",
        "-time",
        String(seconds),
      ]);
      const { at: end } = await client.success();
      const start = client.startedAt;
      const text = client.lines.map((l) => l.text).join("\n");
      const match = /(\d+) connections in [\d.]+s;/.exec(text);
      if (!match) return `unexpected s_time output: ${text.slice(-300)}`;
      await new Promise((r) => setTimeout(r, 100)); // let the sampler see the end
      const cpu = client.cpuSecondsBetween(start, end) + server.cpuSecondsBetween(start, end);
      return { connections: Number(match[1]), seconds: (end - start) / 1000, cpu };
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The floor under ssp's figure: plain TCP in Deno, no crypto, the same exchanges as an ssp
 * connection (three round trips of small frames: two for the handshake, one for the ping),
 * server in this process.
 */
async function plainTcpConnections(seconds: number): Promise<ConnectResult> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const echo = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(64);
    try {
      while ((await conn.read(buffer)) !== null) await conn.write(buffer.subarray(0, 48));
    } catch { /* reset */ }
    conn.close();
  };
  const serving = (async () => {
    for await (const conn of listener) echo(conn);
  })();
  let connections = 0;
  const cpuStart = ownCpuSeconds();
  const start = performance.now();
  const buffer = new Uint8Array(64);
  while (performance.now() - start < seconds * 1000) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    for (let i = 0; i < 3; i++) {
      await conn.write(buffer.subarray(0, 48));
      await conn.read(buffer);
    }
    conn.close();
    connections++;
  }
  const end = performance.now();
  const cpu = ownCpuSeconds() - cpuStart;
  listener.close();
  await serving.catch(() => {});
  return { connections, seconds: (end - start) / 1000, cpu };
}

/** The s_time comparison as a Markdown section. */
async function againstOpenssl(): Promise<string> {
  const seconds = Number(Deno.env.get("SSP_BENCH_CONNECT_SECONDS") ?? 10);
  const ssp = await sspConnections(seconds);
  const tls = await opensslConnections(seconds);
  const floor = await plainTcpConnections(Math.min(seconds, 3));
  const row = (label: string, r: ConnectResult) =>
    `| ${label} | ${r.connections} | ${r.seconds.toFixed(1)} | ${
      (r.connections / r.seconds).toFixed(0)
    } | ${(r.cpu / r.connections * 1000).toFixed(2)} | ${(r.connections / r.cpu).toFixed(0)} |`;
  const rows = [row(`ssp (X25519, ${aeadBackend().info.name} AEAD in this process)`, ssp)];
  const notes = [];
  const floorRow = row("floor: plain TCP in Deno, 3 round trips, no crypto, one process", floor);
  if (typeof tls === "string") {
    notes.push(`openssl s_time unavailable: ${tls}`);
  } else {
    rows.push(row("openssl s_time → s_server (TLS 1.3, X25519, Ed25519)", tls));
    const wall = (ssp.connections / ssp.seconds) / (tls.connections / tls.seconds);
    const cpu = (ssp.connections / ssp.cpu) / (tls.connections / tls.cpu);
    notes.push(
      `**ssp / s_time: ${wall.toFixed(2)}× the connections per second, ${
        cpu.toFixed(2)
      }× the connections per CPU second** (goal ≥ 1.5×).`,
    );
  }
  return [
    "## New secure connections per second: ssp vs `openssl s_time`",
    "",
    `Sequential connections for ${seconds} s each, client and server in separate processes, on`,
    "127.0.0.1. ssp: TCP connect, X25519 handshake, one ping, close, to a real `ssp-server`.",
    "OpenSSL: `s_time -new -tls1_3 -www /ping` (full handshake each time, one request and its",
    "answer) to `s_server -tls1_3 -groups X25519 -num_tickets 0 -WWW`, Ed25519 certificate.",
    "CPU is user + system time of client and server together.",
    "",
    "| peer | connections | seconds | connections/s | CPU ms per connection | connections per CPU s |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    floorRow,
    "",
    ...notes,
    "",
  ].join("\n");
}

/** Measures every group; returns a Markdown section. */
export async function run(): Promise<string> {
  const identity = await generateSigningKeyPair();
  const rows = [
    "| group | one handshake in memory (ms, median) | connections/s over loopback | CPU ms per connection |",
    "|---|---:|---:|---:|",
  ];
  const wanted = Deno.env.get("SSP_BENCH_GROUPS")?.split(",") ?? GROUPS;
  for (const name of GROUPS.filter((g) => wanted.includes(g))) {
    const group = namedGroup(name);
    const ms = await inMemory(group, identity);
    const { perSecond, cpuMs } = await overLoopback(group, identity);
    rows.push(`| ${name} | ${ms.toFixed(2)} | ${perSecond.toFixed(0)} | ${cpuMs.toFixed(2)} |`);
  }
  const groups = rows.length > 2
    ? [
      "## Handshake cost per group",
      "",
      "Both sides of the handshake run in one process on one core; a connection is TCP connect,",
      "handshake, one ping and close. Sequential, one connection at a time.",
      "",
      ...rows,
      "",
    ]
    : [];
  return [...groups, await againstOpenssl()].join("\n");
}

if (import.meta.main) console.log(await run());
