/**
 * The interactive client on a real pseudo-terminal: what a person typing
 * sees and sends while messages arrive.
 */
import assert from "node:assert/strict";
import { tempDir } from "./harness.ts";
import { run, spawnServer, stopServer } from "./programs.ts";
import { clientOnTerminal } from "./pty.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const PASSWORD = "correct horse battery staple";

/** Two registered users and a server; `alice` opens an interactive session on a terminal. */
async function setup(aliceEnv: Record<string, string> = {}) {
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: PASSWORD };
  const aliceDir = await tempDir("ssp-client-");
  const bobDir = await tempDir("ssp-client-");
  for (const [phone, dir] of [[ALICE, aliceDir], [BOB, bobDir]]) {
    const registered = await run("client.ts", ["register", "--phone", phone!, "--data", dir!], env);
    assert.equal(registered.code, 0, registered.stderr);
  }
  const alice = clientOnTerminal(["--phone", ALICE, "--data", aliceDir], { ...env, ...aliceEnv });
  await alice.waitFor("logged in as");
  const bob: {
    send(text: string): Promise<{ id: string; seq: number }>;
    history(): Promise<Record<string, unknown>[]>;
    texts(): Promise<{ text: string }[]>;
  } = {
    send: async (text: string) => {
      const sent = await run(
        "client.ts",
        ["send", "--phone", BOB, "--data", bobDir, "--to", ALICE, "--json", text],
        env,
      );
      assert.equal(sent.code, 0, sent.stdout + sent.stderr);
      return JSON.parse(sent.stdout) as { id: string; seq: number };
    },
    /** Bob's conversation with Alice, oldest first, as `history --json` shows it. */
    history: async (): Promise<Record<string, unknown>[]> => {
      const history = await run(
        "client.ts",
        ["history", "--phone", BOB, "--data", bobDir, "--with", ALICE, "--json"],
        env,
      );
      assert.equal(history.code, 0, history.stdout + history.stderr);
      return history.stdout.trim().split("\n").map((l) => JSON.parse(l));
    },
    /** The texts Alice sent Bob, oldest first. */
    texts: async () =>
      (await bob.history()).filter((m) => m.kind === "text" && m.from === ALICE)
        .map((m) => ({ text: m.text as string })),
  };
  const stop = async () => {
    const code = await alice.close();
    await stopServer(server, serverDir, aliceDir, bobDir);
    return code;
  };
  return { alice, bob, stop };
}

Deno.test("a half-typed line survives an incoming message and is sent whole", async () => {
  const { alice, bob, stop } = await setup();
  try {
    await alice.type(`/to ${BOB}\r`);
    await alice.waitFor(`no messages yet with ${BOB}`);
    await alice.type("half a li");
    await alice.waitFor(`${BOB}> half a li`);
    const before = alice.text().length;
    await bob.send("ping from bob");
    const shown = await alice.waitFor(/\d\d:\d\d \+12015550102: ping from bob/, before);
    // Below the message, the prompt is drawn again with what was typed.
    await alice.waitFor(`${BOB}> half a li`, shown);
    await alice.type("ne\r");
    await alice.waitFor(`${BOB} ✓> `, shown);
    assert.deepEqual((await bob.texts()).map((m) => m.text), ["half a line"]);
  } finally {
    assert.equal(await stop(), 0);
  }
});

Deno.test("a pasted 10,000-character line arrives whole", async () => {
  const { alice, bob, stop } = await setup();
  try {
    await alice.type(`/to ${BOB}\r`);
    await alice.waitFor(`no messages yet with ${BOB}`);
    const long = Array.from({ length: 10_000 }, (_, i) => "abcdefghij"[i % 10]).join("");
    await alice.type(`${long}\r`);
    await alice.waitFor(`${BOB} ✓> `);
    const texts = await bob.texts();
    assert.equal(texts.length, 1);
    assert.equal(texts[0]!.text.length, 10_000);
    assert.equal(texts[0]!.text, long);
  } finally {
    assert.equal(await stop(), 0);
  }
});

Deno.test("arrow keys edit the line and recall the previous one; a trailing \\ continues it", async () => {
  const { alice, bob, stop } = await setup();
  try {
    await alice.type(`/to ${BOB}\r`);
    await alice.waitFor(`no messages yet with ${BOB}`);
    // "helo", ← once, "l": "hello". Then ↑ recalls it, and "!" is added at its end.
    await alice.type("helo\x1b[Dl\r");
    await alice.waitFor(`${BOB} ✓> `);
    const at = alice.text().length;
    await alice.type("\x1b[A!\r");
    await alice.waitFor(`${BOB} ✓> `, at);
    const next = alice.text().length;
    await alice.type("first line\\\rsecond line\r");
    await alice.waitFor(`${BOB} ✓> `, next);
    assert.deepEqual((await bob.texts()).map((m) => m.text), [
      "hello",
      "hello!",
      "first line\nsecond line",
    ]);
  } finally {
    assert.equal(await stop(), 0);
  }
});

Deno.test("times follow TZ, with a line naming the day", async () => {
  // India has no daylight saving time: always UTC+05:30.
  const { alice, bob, stop } = await setup({ TZ: "Asia/Kolkata" });
  try {
    await alice.type(`/to ${BOB}\r`);
    await alice.waitFor(`no messages yet with ${BOB}`);
    const from = alice.text().length;
    const sent = await bob.send("what time is it?");
    await alice.waitFor("what time is it?", from);
    const line = alice.text().slice(from).split("\n").find((l) => l.includes("what time is it?"))!;
    const [time] = line.match(/\d\d:\d\d/)!;
    // Bob's clock stamped the message; Alice shows that instant in Kolkata time.
    const message = (await bob.history()).find((m) => m.id === sent.id)!;
    const kolkata = new Date((message.timestamp as number) + 5.5 * 3600_000);
    assert.equal(time, kolkata.toISOString().slice(11, 16));
    assert.match(alice.text(), new RegExp(`── \\w+day ${kolkata.toISOString().slice(0, 10)} ──`));
  } finally {
    assert.equal(await stop(), 0);
  }
});
