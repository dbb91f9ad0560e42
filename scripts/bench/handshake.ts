/**
 * Handshake cost per key-agreement group: the pure state machines in memory
 * (CPU cost of one handshake, both sides), and full connections to a real
 * server over loopback (connect + handshake + one ping, client and server in
 * one process, so the figure is the whole machine's cost per connection).
 *
 * Run with `deno task bench handshake`, or alone with
 * `deno run -A scripts/bench/handshake.ts`.
 *
 * @module
 */
import { clientHandshake } from "../../lib/channel.ts";
import { ping } from "../../lib/client/ping.ts";
import { type DhGroup, namedGroup } from "../../lib/dh.ts";
import { ClientHandshake, ServerHandshake } from "../../lib/handshake/mod.ts";
import { startServer } from "../../lib/server/server.ts";
import { silentLogger } from "../../lib/server/log.ts";
import { openEmbeddedStore } from "../../lib/store/mod.ts";
import { DiskFileStore } from "../../lib/store/disk_files.ts";
import { generateSigningKeyPair } from "../../lib/sign.ts";
import { median } from "./_sample.ts";

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
  return count / ((performance.now() - start) / 1000);
}

/** Measures every group; returns a Markdown section. */
export async function run(): Promise<string> {
  const identity = await generateSigningKeyPair();
  const rows = [
    "| group | one handshake in memory (ms, median) | connections/s over loopback |",
    "|---|---:|---:|",
  ];
  for (const name of GROUPS) {
    const group = namedGroup(name);
    const ms = await inMemory(group, identity);
    const perSecond = await overLoopback(group, identity);
    rows.push(`| ${name} | ${ms.toFixed(2)} | ${perSecond.toFixed(0)} |`);
  }
  return [
    "## Handshake cost per group",
    "",
    "Both sides of the handshake run in one process on one core; a connection is TCP connect,",
    "handshake, one ping and close. Sequential, one connection at a time.",
    "",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) console.log(await run());
