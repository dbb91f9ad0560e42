/**
 * A sender cannot act on the recipient's terminal: escape sequences, control
 * characters and bidi overrides in a message reach `listen`, `history` and
 * the interactive session escaped, and `--json` exact.
 */
import assert from "node:assert/strict";
import { cliWorld, listenProcess } from "./cli_world.ts";
import { run } from "./programs.ts";
import { clientOnTerminal } from "./pty.ts";
import { lines } from "../lib/ui/mod.ts";
import { within } from "../lib/testing/mod.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";

/** Erases the line above and draws a fake message, then reverses the rest of the line. */
const ATTACK =
  "hi\r\x1b[2K\x1b[1A\x1b[2K08:13 +12015550199: (from Bob) my new number\x07\x9b2J \u202egnp.exe\u2066\n12:00 you: forged";

/** What the attack may never leave in what a terminal receives. */
function assertInert(output: string, where: string): void {
  for (const bad of ["\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\r"]) {
    assert.ok(
      !output.includes(bad),
      `${where} holds ${JSON.stringify(bad)}: ${JSON.stringify(output)}`,
    );
  }
  // The text is still there, visibly escaped; the peer's newline starts an indented line.
  assert.match(
    output,
    /hi\\r\\x1b\[2K\\x1b\[1A\\x1b\[2K08:13 \+12015550199: \(from Bob\) my new number\\x07\\x9b2J \\u202egnp\.exe\\u2066\n {6}12:00 you: forged/,
  );
}

Deno.test("escape sequences in a message reach listen and history escaped, and --json exact", async () => {
  const world = await cliWorld([ALICE, BOB]);
  const { env, as } = world;
  let listener: Deno.ChildProcess | undefined;
  try {
    listener = listenProcess(world, BOB);
    const errors = lines(listener.stderr);
    // Deno may print download lines first; the client's note ends the wait.
    await within(
      (async () => {
        for (;;) {
          const { value, done } = await errors.next();
          assert.ok(!done, "listen exited before listening");
          if (value.startsWith("listening as ")) return;
        }
      })(),
      { what: "listen's 'listening as' note", deadlineMs: 60_000 },
    );
    const sent = await run("client.ts", ["send", ...as(ALICE), "--to", BOB, ATTACK], env);
    assert.equal(sent.code, 0, sent.stderr);
    // listen prints a date line, then the message on two lines: read up to its second.
    const out = lines(listener.stdout);
    const shown: string[] = [];
    await within(
      (async () => {
        for (;;) {
          const { value, done } = await out.next();
          assert.ok(!done, `listen ended after: ${JSON.stringify(shown)}`);
          shown.push(value);
          if (value.includes("forged")) return;
        }
      })(),
      { what: "the message on listen's output" },
    );
    assertInert(shown.filter((l) => !l.startsWith("── ")).join("\n"), "listen");

    const history = await run("client.ts", ["history", ...as(BOB), "--with", ALICE], env);
    assert.equal(history.code, 0, history.stderr);
    assertInert(history.stdout + history.stderr, "history");

    const json = await run(
      "client.ts",
      ["history", ...as(BOB), "--with", ALICE, "--json"],
      env,
    );
    const texts = json.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((m) =>
      m.kind === "text"
    );
    assert.equal(texts[0].text, ATTACK, "--json carries the text exactly");
  } finally {
    listener?.kill("SIGTERM");
    await listener?.status;
    await listener?.stdout.cancel().catch(() => {});
    await listener?.stderr.cancel().catch(() => {});
    await world.cleanup();
  }
});

Deno.test("escape sequences in a message reach the interactive session escaped", async () => {
  const world = await cliWorld([ALICE, BOB]);
  const { env, as } = world;
  const bob = clientOnTerminal(as(BOB), env);
  try {
    await bob.waitFor("logged in as");
    await bob.type(`/to ${ALICE}\r`);
    await bob.waitFor(`no messages yet with ${ALICE}`);
    const from = bob.raw().length;
    const fromText = bob.text().length;
    const sent = await run("client.ts", ["send", ...as(ALICE), "--to", BOB, ATTACK], env);
    assert.equal(sent.code, 0, sent.stderr);
    await bob.waitFor("forged", fromText);
    const raw = bob.raw().slice(from);
    // The session draws its own prompt with ESC sequences; none of the sender's may pass.
    for (const bad of ["\x1b[1A", "\x07", "\x9b", "\u202e", "\u2066"]) {
      assert.ok(!raw.includes(bad), `the terminal received ${JSON.stringify(bad)}`);
    }
    assert.ok(raw.includes("\\x1b[1A") && raw.includes("\\u202e"));
  } finally {
    await bob.close();
    await world.cleanup();
  }
});
