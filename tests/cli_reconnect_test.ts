/**
 * The clients across a server restart: the interactive session and `listen`
 * log in again by themselves, and a line typed while the server was away is
 * delivered exactly once afterwards.
 */
import assert from "node:assert/strict";
import { cliWorld, listenProcess } from "./cli_world.ts";
import { run } from "./programs.ts";
import { clientOnTerminal } from "./pty.ts";
import { lines } from "../lib/ui/mod.ts";
import { within } from "../lib/testing/mod.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";

Deno.test("a line typed while the server restarts is delivered once, after reconnecting", async () => {
  const { env, as, halt, restart, cleanup } = await cliWorld([ALICE, BOB]);
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
  const world = await cliWorld([ALICE, BOB]);
  const { env, as, halt, restart, cleanup } = world;
  const listen = (...flags: string[]) => listenProcess(world, BOB, ["--json", ...flags]);
  /** The next JSON line of a listener, within the default deadline. */
  const next = async (it: AsyncGenerator<string>, what: string) => {
    const { value, done } = await within(it.next(), { what });
    assert.ok(!done, `listen ended before ${what}`);
    return JSON.parse(value);
  };
  const staying = listen();
  const leaving = listen("--no-reconnect");
  try {
    const events = lines(staying.stdout);
    const other = lines(leaving.stdout);
    assert.equal((await next(events, "listening")).type, "listening");
    assert.equal((await next(other, "listening")).type, "listening");
    await halt();
    const { code } = await within(leaving.status, { what: "listen --no-reconnect to exit" });
    assert.notEqual(code, 0, "--no-reconnect exits with an error when the connection drops");
    const error = await next(other, "the error");
    assert.ok(error.error?.code, JSON.stringify(error));
    assert.equal((await next(events, "disconnected")).type, "disconnected");
    await restart();
    assert.equal((await next(events, "listening again")).type, "listening");
    const sent = await run(
      "client.ts",
      ["send", ...as(ALICE), "--to", BOB, "after the restart"],
      env,
    );
    assert.equal(sent.code, 0, sent.stderr);
    const message = await next(events, "the message");
    assert.equal(message.type, "message");
    assert.equal(message.text, "after the restart");
  } finally {
    staying.kill("SIGTERM");
    assert.equal((await staying.status).code, 0);
    for (const child of [staying, leaving]) {
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
    }
    await cleanup();
  }
});
