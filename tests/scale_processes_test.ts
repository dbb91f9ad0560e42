/**
 * Several `ssp-server` processes over one store: two processes sharing a port
 * with `--reuse-port`, the flags refused without `--mongo`, and a server
 * killed with SIGKILL mid-send. One FerretDB (scripts/ferretdb.ts) and one
 * private nats-server (scripts/nats.ts) for this file. Never skipped: if
 * either cannot start, loading this file fails the run.
 */
import assert from "node:assert/strict";
import { dropDatabase, startFerretDb } from "../scripts/ferretdb.ts";
import { startNats } from "../scripts/nats.ts";
import { SERVER_V8_FLAGS } from "../scripts/compile.ts";
import { newMessageId } from "../lib/protocol/mod.ts";
import { tempDir, type TestServer } from "./harness.ts";
import { parseLogLine, PERMISSIONS, ROOT, run } from "./programs.ts";
import { until, within } from "../lib/testing/mod.ts";
import { newUser, type TestUser, textsOf, userSession } from "./users.ts";

const ferret = await startFerretDb();
const nats = await startNats();

const ALICE = "+12015550101";
const BOB = "+12015550102";

const options = { sanitizeOps: false, sanitizeResources: false };

/** A port that was free a moment ago. */
function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

/** `ssp-server` as a process, with its JSON log events collected as they come. */
async function spawnServerProcess(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      ...PERMISSIONS,
      "--allow-sys=osRelease,uid",
      ...SERVER_V8_FLAGS,
      "server.ts",
      "--log-format",
      "json",
      ...args,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const events: Record<string, unknown>[] = [];
  let text = "";
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        text += chunk;
        const lines = text.split("\n");
        text = lines.pop()!;
        for (const line of lines) {
          const event = parseLogLine(line);
          if (event) events.push(event);
          else if (line.trim()) events.push({ event: "stderr", line });
        }
      },
    }),
  );
  const exited = child.status;
  await Promise.race([
    until(() => events.some((e) => e.event === "listening"), {
      what: "listening",
      deadlineMs: 60_000,
    }),
    exited.then(() => {
      throw new Error(`ssp-server exited before listening: ${JSON.stringify(events)}`);
    }),
  ]);
  let stopped = false;
  const stop = async (signal: "SIGTERM" | "SIGKILL") => {
    if (!stopped) child.kill(signal);
    stopped = true;
    await exited;
    await reading.catch(() => {});
  };
  return {
    events,
    /** `host:port`, as a test server for the client helpers. */
    server: {
      address: `127.0.0.1:${events.find((e) => e.event === "listening")!.port}`,
    } as TestServer,
    stop: () => stop("SIGTERM"),
    kill: () => stop("SIGKILL"),
  };
}

Deno.test({
  name: "two ssp-server processes with --reuse-port listen on one port, share its connections, " +
    "and relay between their users",
  ...options,
  async fn() {
    const port = freePort();
    const dataDir = await tempDir("ssp-server-");
    const dbName = `ssp_scale_reuse_${Date.now().toString(36)}`;
    const args = [
      "--port",
      String(port),
      "--reuse-port",
      "--data",
      dataDir,
      "--mongo",
      `${ferret.url.replace(/\/$/, "")}/${dbName}`,
      "--bus",
      nats.url,
    ];
    // One after the other: the first creates the identity key both then load.
    const first = await spawnServerProcess(args);
    const processes = [first];
    const users: TestUser[] = [];
    try {
      processes.push(await spawnServerProcess(args));
      for (const p of processes) {
        assert.equal(p.events.find((e) => e.event === "listening")!.port, port);
      }
      // The kernel spreads connections over both: connect until each has accepted one.
      const accepted = () => processes.map((p) => p.events.filter((e) => e.event === "connected"));
      for (let i = 0; i < 200 && accepted().some((a) => a.length === 0); i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        await until(() => accepted().flat().length > i, { what: "accept", deadlineMs: 5000 });
      }
      assert.ok(accepted().every((a) => a.length > 0), "one process accepted nothing");

      const shared = { address: `127.0.0.1:${port}` } as TestServer;
      const alice = await newUser(shared, ALICE);
      const bob = await newUser(shared, BOB);
      users.push(alice, bob);
      for (const text of ["p1", "p2", "p3"]) {
        await alice.session.messenger.send([BOB], { kind: "text", text });
      }
      assert.deepEqual(
        textsOf(await within(bob.texts(3), { what: "delivery", deadlineMs: 15_000 })),
        ["p1", "p2", "p3"],
      );
    } finally {
      for (const user of users) user.session.close();
      for (const p of processes) await p.stop();
      await dropDatabase(ferret.url, dbName);
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test("--reuse-port and --bus without --mongo are refused: the processes would not share users", async () => {
  for (const flag of ["--reuse-port", "--bus=nats://127.0.0.1:4222"]) {
    const result = await run("server.ts", ["--port", "0", flag]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /needs --mongo/);
  }
});

Deno.test({
  name: "a server killed with SIGKILL mid-send: its user carries on through another server, " +
    "and every message arrives once, in order",
  ...options,
  async fn() {
    const dataDir = await tempDir("ssp-server-");
    const dbName = `ssp_scale_kill_${Date.now().toString(36)}`;
    const args = [
      ...["--port", "0", "--data", dataDir, "--bus", nats.url],
      ...["--mongo", `${ferret.url.replace(/\/$/, "")}/${dbName}`],
    ];
    const a = await spawnServerProcess(args);
    const processes = [a];
    const users: TestUser[] = [];
    try {
      const b = await spawnServerProcess(args);
      processes.push(b);
      const alice = await newUser(a.server, ALICE);
      const bob = await newUser(b.server, BOB);
      users.push(alice, bob);
      const ids = Array.from({ length: 30 }, () => newMessageId());
      const send = (session: TestUser, i: number) =>
        session.session.messenger.send([BOB], { kind: "text", text: `m${i}` }, ids[i]);
      for (let i = 0; i < 10; i++) await send(alice, i);
      // Five sends in flight, and the server dies under them.
      const inFlight = [10, 11, 12, 13, 14].map((i) =>
        send(alice, i).then(() => true, () => false)
      );
      await a.kill();
      const acked = await Promise.all(inFlight);

      // Alice reconnects through the other server and resends what was not acknowledged,
      // with the same message ids, then carries on.
      alice.session.close();
      users.splice(users.indexOf(alice), 1);
      const again = await userSession(b.server, ALICE, { dataDir: alice.dataDir });
      users.push(again);
      for (let i = 10; i < 30; i++) if (i >= 15 || !acked[i - 10]) await send(again, i);
      // Delivery is in seq order, so a stored duplicate would arrive before this marker.
      await again.session.messenger.send([BOB], { kind: "text", text: "end" });
      const texts = textsOf(await within(bob.texts(31), { what: "delivery", deadlineMs: 30_000 }));
      assert.deepEqual(texts, [...Array.from({ length: 30 }, (_, i) => `m${i}`), "end"]);
    } finally {
      for (const user of users) user.session.close();
      for (const p of processes) await p.stop();
      await dropDatabase(ferret.url, dbName);
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
