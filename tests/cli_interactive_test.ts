/**
 * The interactive client on a real pseudo-terminal: what a person typing
 * sees and sends while messages arrive.
 */
import assert from "node:assert/strict";
import { startTestServer, tempDir } from "./harness.ts";
import { newUser } from "./users.ts";
import { until } from "../lib/testing/mod.ts";
import { cliWorld, PASSWORD } from "./cli_world.ts";
import { run } from "./programs.ts";
import { clientOnTerminal } from "./pty.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";

/** Two registered users and a server; `alice` opens an interactive session on a terminal. */
async function setup(aliceEnv: Record<string, string> = {}) {
  const world = await cliWorld([ALICE, BOB]);
  const { env, as } = world;
  const alice = clientOnTerminal(as(ALICE), { ...env, ...aliceEnv });
  await alice.waitFor("logged in as");
  const bob: {
    send(text: string): Promise<{ id: string; seq: number }>;
    history(): Promise<Record<string, unknown>[]>;
    texts(): Promise<{ text: string }[]>;
  } = {
    send: async (text: string) => {
      const sent = await run(
        "client.ts",
        ["send", ...as(BOB), "--to", ALICE, "--json", text],
        env,
      );
      assert.equal(sent.code, 0, sent.stdout + sent.stderr);
      return JSON.parse(sent.stdout) as { id: string; seq: number };
    },
    /** Bob's conversation with Alice, oldest first, as `history --json` shows it. */
    history: async (): Promise<Record<string, unknown>[]> => {
      const history = await run(
        "client.ts",
        ["history", ...as(BOB), "--with", ALICE, "--json"],
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
    await world.cleanup();
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

Deno.test("names, /chats, /to, /history and receipts as marks in a real session", async () => {
  const server = await startTestServer();
  const bob = await newUser(server, BOB);
  const aliceDir = await tempDir("ssp-client-");
  const env = { SSP_SERVER: server.address, SSP_PASSWORD: PASSWORD };
  let alice: ReturnType<typeof clientOnTerminal> | undefined;
  try {
    const registered = await run(
      "client.ts",
      ["register", "--phone", ALICE, "--data", aliceDir],
      env,
    );
    assert.equal(registered.code, 0, registered.stderr);
    const b1 = await bob.session.messenger.send([ALICE], { kind: "text", text: "b one" });
    const b2 = await bob.session.messenger.send([ALICE], { kind: "text", text: "b two" });
    alice = clientOnTerminal(["--phone", ALICE, "--data", aliceDir], env);
    // Nothing is open: both arrive marked as another conversation's, and count as unread.
    await alice.waitFor(/«\+12015550102» \d\d:\d\d \+12015550102: b two/);
    assert.ok(
      alice.raw().includes("\x07"),
      "a message outside the open conversation rings the bell",
    );
    await alice.type("/chats\r");
    await alice.waitFor(/\d\d:\d\d {2}\+12015550102 {2}2 unread/);

    // A number with no account: a clear error, and no conversation opens.
    let at = alice.text().length;
    await alice.type("/to +12015550199\r");
    await alice.waitFor("+12015550199 has no ssp account", at);
    await alice.type("/to\r");
    await alice.waitFor("no conversation is open", at);
    assert.doesNotMatch(alice.text().slice(at), /\+12015550199>/);

    await alice.type(`/name ${BOB} Bob\r`);
    await alice.waitFor(`${BOB} is now called Bob`, at);
    at = alice.text().length;
    await alice.type("/to bob\r");
    await alice.waitFor(/\d\d:\d\d Bob: b two\n/, at);
    await alice.waitFor("Bob> ", at);
    // Showing the conversation sends read receipts for what was shown.
    const readReceipts = () =>
      bob.received.filter((m) => m.content.kind === "receipt" && m.content.receipt === "read")
        .flatMap((m) => m.content.kind === "receipt" ? m.content.ids : []);
    await until(() => readReceipts().length >= 2, { what: "Bob gets read receipts" });
    assert.deepEqual(readReceipts().sort(), [b1.id, b2.id].sort());

    // My message: ✓ when stored, ✓✓ when Bob's device has it, "read" when Bob shows it.
    at = alice.text().length;
    await alice.type("a one\r");
    await alice.waitFor("Bob ✓> ", at);
    const texts = () => bob.received.filter((m) => m.content.kind === "text");
    await until(() => texts().length >= 1, { what: "Bob gets the message" });
    const a1 = texts()[0]!;
    assert.equal(a1.content.kind === "text" && a1.content.text, "a one");
    await alice.waitFor("Bob ✓✓> ", at);
    await bob.session.messenger.send([ALICE], { kind: "receipt", receipt: "read", ids: [a1.id] });
    await alice.waitFor("Bob ✓✓ read> ", at);

    // The newest items are receipts now; /history 1 still shows one message, with its mark.
    at = alice.text().length;
    await alice.type("/history 1\r");
    await alice.waitFor(/\d\d:\d\d you: a one {2}✓✓ read\n/, at);
    await alice.type("/chats\r");
    await alice.waitFor(/\d\d:\d\d {2}Bob {2}\(open\)/, at);
    const shown = alice.text().slice(at);
    assert.doesNotMatch(shown, /b two|message\(s\)/);
  } finally {
    assert.equal(await alice?.close(), 0);
    bob.session.close();
    await server.stop();
    await Deno.remove(aliceDir, { recursive: true });
  }
});
