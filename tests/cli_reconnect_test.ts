/**
 * The clients across a server restart: the interactive session and `listen`
 * log in again by themselves, and a line typed while the server was away is
 * delivered exactly once afterwards.
 */
import assert from "node:assert/strict";
import { tempDir } from "./harness.ts";
import { PERMISSIONS, ROOT, run, spawnServer } from "./programs.ts";
import { clientOnTerminal } from "./pty.ts";
import { lines } from "../lib/ui/lines.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const PASSWORD = "correct horse battery staple";

type Server = Awaited<ReturnType<typeof spawnServer>>;

/** Stops a server but keeps its data, so it can start again on the same port. */
async function halt(server: Server): Promise<void> {
  server.child.kill("SIGTERM");
  await server.child.status;
  await server.rest;
}

async function setup() {
  const serverDir = await tempDir("ssp-server-");
  let server = await spawnServer("server.ts", serverDir);
  const port = server.port;
  const env = { SSP_SERVER: `127.0.0.1:${port}`, SSP_PASSWORD: PASSWORD };
  const dirs: Record<string, string> = {
    [ALICE]: await tempDir("ssp-client-"),
    [BOB]: await tempDir("ssp-client-"),
  };
  const as = (phone: string) => ["--phone", phone, "--data", dirs[phone]!];
  for (const phone of [ALICE, BOB]) {
    const registered = await run("client.ts", ["register", ...as(phone)], env);
    assert.equal(registered.code, 0, registered.stderr);
  }
  return {
    env,
    as,
    halt: () => halt(server),
    restart: async () => {
      server = await spawnServer("server.ts", serverDir, { port });
    },
    cleanup: async () => {
      await halt(server);
      for (const dir of [serverDir, ...Object.values(dirs)]) {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

Deno.test("a line typed while the server restarts is delivered once, after reconnecting", async () => {
  const { env, as, halt, restart, cleanup } = await setup();
  const alice = clientOnTerminal(as(ALICE), env);
  try {
    await alice.waitFor("logged in as");
    await alice.type(`/to ${BOB}\r`);
    await alice.waitFor(`no messages yet with ${BOB}`);
    await halt();
    await alice.waitFor("reconnecting…");
    const at = alice.text().length;
    await alice.type("typed while the server was away\r");
    await alice.waitFor("waits in the outbox", at);
    await restart();
    await alice.waitFor("reconnected to", at);
    await alice.waitFor("sent what waited in the outbox", at);
    await alice.waitFor(`${BOB} ✓> `, at);
    // And the session goes on as before.
    await alice.type("and one more\r");
    const history = async () => {
      const result = await run(
        "client.ts",
        ["history", ...as(BOB), "--with", ALICE, "--json"],
        env,
      );
      assert.equal(result.code, 0, result.stdout + result.stderr);
      return result.stdout.trim().split("\n").map((l) => JSON.parse(l))
        .filter((m) => m.kind === "text").map((m) => m.text);
    };
    const deadline = Date.now() + 20_000;
    let texts = await history();
    while (texts.length < 2 && Date.now() < deadline) texts = await history();
    assert.deepEqual(texts, ["typed while the server was away", "and one more"]);
  } finally {
    assert.equal(await alice.close(), 0);
    await cleanup();
  }
});

Deno.test("listen logs in again after a restart; with --no-reconnect it fails instead", async () => {
  const { env, as, halt, restart, cleanup } = await setup();
  const listen = (...flags: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, "client.ts", "listen", ...as(BOB), "--json", ...flags],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  const staying = listen();
  const leaving = listen("--no-reconnect");
  try {
    const events = lines(staying.stdout);
    const other = lines(leaving.stdout);
    assert.equal(JSON.parse((await events.next()).value).type, "listening");
    assert.equal(JSON.parse((await other.next()).value).type, "listening");
    await halt();
    const { code } = await leaving.status;
    assert.notEqual(code, 0, "--no-reconnect exits with an error when the connection drops");
    const error = JSON.parse((await other.next()).value);
    assert.ok(error.error?.code, JSON.stringify(error));
    assert.equal(JSON.parse((await events.next()).value).type, "disconnected");
    await restart();
    assert.equal(JSON.parse((await events.next()).value).type, "listening");
    const sent = await run(
      "client.ts",
      ["send", ...as(ALICE), "--to", BOB, "after the restart"],
      env,
    );
    assert.equal(sent.code, 0, sent.stderr);
    const message = JSON.parse((await events.next()).value);
    assert.equal(message.type, "message");
    assert.equal(message.text, "after the restart");
  } finally {
    staying.kill("SIGTERM");
    assert.equal((await staying.status).code, 0);
    await staying.stdout.cancel().catch(() => {});
    await leaving.stdout.cancel().catch(() => {});
    await cleanup();
  }
});
