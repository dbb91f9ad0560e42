/**
 * The server under denial-of-service attacks: a real `ssp-server` process on
 * its default flags, attackers and real clients in this process, all on
 * loopback. Attackers connect from 127.0.0.2 and up (other "hosts"), real
 * clients from 127.0.0.1. Each row says whether real clients were still
 * served and the server's peak memory (VmHWM).
 *
 * - `ffdh flood`: loops sending `client_hello`s that offer only ffdhe4096
 *   (sealed once, so they cost the attacker nothing); meanwhile a real
 *   client runs X25519 handshakes + ping one after another.
 * - `idle flood`: 1,100 idle TCP connections, then a real client registers,
 *   logs in and sends.
 * - `pre-login pings`: connections that handshake and send a `ping` with an
 *   ignored 1 MiB field, then stay.
 * - `never-reading sessions`: sessions of one account that stop reading
 *   while another account sends them messages.
 * - `pending downloads`: `file_get`s for an unfinished upload on one connection.
 *
 * Run with `deno task bench abuse`, or alone with `deno run -A scripts/bench/abuse.ts`.
 * `SSP_BENCH_SERVER=/path/to/server.ts` measures another build (e.g. an
 * export of an older commit) with the same attacks; limits can be changed
 * through the server's `SSP_*` environment variables.
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { decode } from "@msgpack/msgpack";
import { clientHandshake } from "../../lib/channel/mod.ts";
import { openSession, ping, sendFile, type Session } from "../../lib/client/mod.ts";
import { encodeFrame, encodeMessage } from "../../lib/wire/mod.ts";
import { ClientHandshake } from "../../lib/handshake/mod.ts";
import { Proc } from "./_procs.ts";
import { type ServerProcess, startServerProcess } from "./_server.ts";
import { randomBytes } from "./_sample.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SERVER = Deno.env.get("SSP_BENCH_SERVER") ?? join(ROOT, "server.ts");
const PASSWORD = "correct horse battery staple";
/** How long the real client is measured during a flood. */
const FLOOD_MS = 10_000;

interface Server extends ServerProcess {
  dir: string;
  stop(): Promise<void>;
}

/** A server on its default flags (and `env`) in a fresh data directory. */
async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-abuse-" });
  try {
    const server = await startServerProcess({ dataDir: dir, script: SERVER, env });
    return {
      ...server,
      dir,
      async stop() {
        await server.proc.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** A TCP connection from another loopback address. */
function connectFrom(local: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: local });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Sends one frame from `local` and reports the `t` of the server's first frame. */
function helloOnce(local: string, port: number, frame: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: local });
    let got = Buffer.alloc(0);
    const done = (what: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(what);
    };
    const timer = setTimeout(() => done("timeout"), 20_000);
    socket.on("connect", () => socket.write(frame));
    socket.on("data", (data: Buffer) => {
      got = Buffer.concat([got, data]);
      if (got.length < 4 || got.length < 4 + got.readUInt32BE(0)) return;
      const message = decode(got.subarray(4, 4 + got.readUInt32BE(0))) as { t: string };
      done(message.t);
    });
    socket.on("error", () => done("error"));
    socket.on("close", () => done("closed"));
  });
}

/**
 * The attacker, run as its own process (`abuse.ts attack PORT ADDRESSES LOOPS MS`) so that
 * its event loop does not slow the real client's: prints the count of each server reply.
 */
async function attack(port: number, addresses: number, loops: number, ms: number): Promise<void> {
  const hello = encodeFrame(new ClientHandshake({ groups: ["ffdhe4096"] }).clientHello());
  const counts: Record<string, number> = {};
  const until = performance.now() + ms;
  await Promise.all(Array.from({ length: addresses * loops }, async (_, i) => {
    const local = `127.0.0.${2 + (i % addresses)}`;
    while (performance.now() < until) {
      const t = await helloOnce(local, port, hello);
      counts[t] = (counts[t] ?? 0) + 1;
    }
  }));
  console.log(JSON.stringify(counts));
}

async function ffdhFlood(addresses: number, loops: number): Promise<string> {
  const server = await startServer();
  const attacker = new Proc(Deno.execPath(), [
    "run",
    "-A",
    new URL(import.meta.url).pathname,
    "attack",
    String(server.port),
    String(addresses),
    String(loops),
    String(FLOOD_MS + 2000),
  ]);
  await new Promise((r) => setTimeout(r, 1000)); // let the flood build up
  const latencies: number[] = [];
  let failed = 0;
  const until = performance.now() + FLOOD_MS;
  while (performance.now() < until) {
    const start = performance.now();
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const channel = await clientHandshake(conn, { groups: ["x25519"] });
      await ping(channel, 1);
      channel.close();
      latencies.push(performance.now() - start);
    } catch {
      failed++;
    }
  }
  await attacker.success();
  const counts = JSON.parse(attacker.lines.at(-1)?.text ?? "{}") as Record<string, number>;
  await server.stop();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length
      ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!
      : NaN;
  return `| ffdh flood: ${addresses} address(es) × ${loops} loops of ffdhe4096-only hellos | ` +
    `${latencies.length} X25519 handshakes + ping in ${FLOOD_MS / 1000} s (${failed} failed), ` +
    `p50 ${pct(0.5).toFixed(0)} ms, p99 ${pct(0.99).toFixed(0)} ms | ${
      server.proc.peakMiB.toFixed(0)
    } | attacker hellos: ${counts.server_hello ?? 0} answered, ${counts.alert ?? 0} refused, ${
      (counts.closed ?? 0) + (counts.error ?? 0) + (counts.timeout ?? 0)
    } dropped |`;
}

/** Registers, logs in and sends one message to itself within 20 s: served or not. */
async function realClient(address: string, phone: string): Promise<string> {
  const dataDir = await Deno.makeTempDir({ prefix: "ssp-bench-client-" });
  const start = performance.now();
  try {
    const session = await withTimeout(
      openSession({ server: address, dataDir, phone, password: PASSWORD, mode: "register" }),
    );
    await withTimeout(session.messenger.send([phone], { kind: "text", text: "hello" }));
    session.close();
    return `served (${((performance.now() - start) / 1000).toFixed(1)} s)`;
  } catch (error) {
    return `not served: ${(error as Error).message.slice(0, 80)}`;
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

async function withTimeout<T>(promise: Promise<T>, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error("timed out")), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function idleFlood(count: number): Promise<string> {
  const server = await startServer();
  const sockets: net.Socket[] = [];
  let closed = 0;
  for (let i = 0; i < count; i++) {
    try {
      const socket = await connectFrom("127.0.0.2", server.port);
      socket.on("error", () => {});
      socket.on("close", () => closed++);
      socket.resume(); // read, so that the server's close is seen
      sockets.push(socket);
    } catch { /* refused */ }
  }
  const served = await realClient(server.address, "+12015550301");
  const open = sockets.length - closed;
  for (const s of sockets) s.destroy();
  const peak = server.proc.peakMiB;
  await server.stop();
  return `| idle flood: ${count} idle TCP connections from one address | real client ${served} | ${
    peak.toFixed(0)
  } | attacker connections still open: ${open} |`;
}

async function preloginPings(count: number): Promise<string> {
  // All from 127.0.0.1: lift the per-address limit so that this row shows the frame limit alone.
  const server = await startServer({ SSP_MAX_CONNECTIONS_PER_ADDRESS: "100000" });
  const idle = server.proc.peakMiB;
  const pad = new Uint8Array(1024 * 1024 - 64);
  const channels = [];
  let refused = 0;
  for (let i = 0; i < count; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const channel = await clientHandshake(conn, { groups: ["x25519"] });
      await channel.send(encodeMessage({ t: "ping", id: 1, pad }));
      channels.push(channel);
    } catch {
      refused++;
    }
  }
  await new Promise((r) => setTimeout(r, 2000));
  const served = await realClient(server.address, "+12015550302");
  const peak = server.proc.peakMiB;
  for (const c of channels) c.close();
  await server.stop();
  return `| pre-login pings: ${count} connections, each a ping with a 1 MiB field | real client ${served} | ${
    peak.toFixed(0)
  } | idle ${
    idle.toFixed(0)
  } MiB; ${refused} saw the server close the connection while sending the ping |`;
}

/** A TCP proxy whose server → client direction can be stopped (a client that stops reading). */
function stallingProxy(upstream: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let stalled = false;
  const conns: Deno.Conn[] = [];
  const pipe = async (from: Deno.Conn, to: Deno.Conn, stops: boolean) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        while (stops && stalled) await new Promise((r) => setTimeout(r, 100));
        const n = await from.read(buffer);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await to.write(buffer.subarray(off, n));
      }
    } catch { /* closed */ }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  };
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: upstream });
      conns.push(client, server);
      pipe(client, server, false);
      pipe(server, client, true);
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    stall: () => stalled = true,
    close() {
      stalled = false;
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

async function neverReading(sessions: number, messages: number): Promise<string> {
  const server = await startServer();
  const proxy = stallingProxy(server.port);
  const dirs: string[] = [];
  const open = async (phone: string, address: string, mode: "register" | "login") => {
    const dataDir = await Deno.makeTempDir({ prefix: "ssp-bench-client-" });
    dirs.push(dataDir);
    return await openSession({ server: address, dataDir, phone, password: PASSWORD, mode });
  };
  const sender = await open("+12015550303", server.address, "register");
  (await open("+12015550304", server.address, "register")).close();
  const readers: Session[] = [];
  for (let i = 0; i < sessions; i++) {
    readers.push(await open("+12015550304", proxy.address, "login"));
  }
  const idle = server.proc.peakMiB;
  proxy.stall();
  const text = Array.from(randomBytes(30 * 1024), (b) => b.toString(16).padStart(2, "0")).join("");
  const start = performance.now();
  for (let i = 0; i < messages; i += 64) {
    await Promise.all(
      Array.from(
        { length: Math.min(64, messages - i) },
        () => sender.messenger.send(["+12015550304"], { kind: "text", text }),
      ),
    );
  }
  const seconds = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const peak = server.proc.peakMiB;
  sender.close();
  for (const r of readers) r.close();
  proxy.close();
  await server.stop();
  for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  return `| never-reading sessions: ${sessions} sessions of one account stop reading; ${messages} × 60 KiB sent to it | sender acked all in ${
    seconds.toFixed(1)
  } s | ${peak.toFixed(0)} | idle ${idle.toFixed(0)} MiB |`;
}

async function pendingDownloads(count: number): Promise<string> {
  const server = await startServer();
  const dataDir = await Deno.makeTempDir({ prefix: "ssp-bench-client-" });
  const session = await openSession({
    server: server.address,
    dataDir,
    phone: "+12015550305",
    password: PASSWORD,
    mode: "register",
  });
  const path = join(dataDir, "half.bin");
  await Deno.writeFile(path, randomBytes(40 * 256 * 1024));
  let fileId = "";
  await sendFile(session, path, ["+12015550305"], (done) => {
    if (done >= 20 * 256 * 1024) session.close(); // the upload stops part-way
  }).catch(() => {});
  const again = await openSession({
    server: server.address,
    dataDir,
    phone: "+12015550305",
    password: PASSWORD,
  });
  const files = await again.rpc.request({ t: "file_list" });
  fileId = files.files[0]!.fileId;
  const committed = files.files[0]!.committed;
  const idle = server.proc.peakMiB;
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    try {
      const reply = await again.rpc.request({ t: "file_get", fileId, from: committed });
      outcomes[reply.t] = (outcomes[reply.t] ?? 0) + 1;
    } catch (error) {
      const code = (error as { code?: string }).code ?? "error";
      outcomes[code] = (outcomes[code] ?? 0) + 1;
    }
  }
  await new Promise((r) => setTimeout(r, 1000));
  const peak = server.proc.peakMiB;
  again.close();
  await server.stop();
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  return `| pending downloads: ${count} file_get for an unfinished upload on one connection | ${
    Object.entries(outcomes).map(([k, v]) => `${v} ${k}`).join(", ")
  } | ${peak.toFixed(0)} | idle ${idle.toFixed(0)} MiB |`;
}

/** Runs every attack; returns a Markdown section. */
export async function run(): Promise<string> {
  const rows = [
    await ffdhFlood(1, 4),
    await ffdhFlood(8, 1),
    await idleFlood(1100),
    await preloginPings(300),
    await neverReading(8, 400),
    await pendingDownloads(1000),
  ];
  return [
    "## Under attack",
    "",
    `Server: \`${SERVER.replace(ROOT, "")}\`, default flags${
      Object.keys(Deno.env.toObject()).some((k) => k.startsWith("SSP_") && k !== "SSP_BENCH_SERVER")
        ? " except the SSP_* environment"
        : ""
    }. Attackers on 127.0.0.2 and up, real clients on 127.0.0.1.`,
    "",
    "| attack | real clients | server peak RSS (MiB) | notes |",
    "|---|---|---:|---|",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  if (Deno.args[0] === "attack") {
    const [port, addresses, loops, ms] = Deno.args.slice(1).map(Number);
    await attack(port!, addresses!, loops!, ms!);
  } else {
    console.log(await run());
  }
}
