/**
 * A sender cannot act on the recipient's terminal: escape sequences, control
 * characters and bidi overrides in a message reach `listen`, `history` and
 * the interactive session escaped, and `--json` exact.
 */
import assert from "node:assert/strict";
import { tempDir } from "./harness.ts";
import { PERMISSIONS, ROOT, run, spawnServer, stopServer } from "./programs.ts";
import { clientOnTerminal } from "./pty.ts";
import { lines } from "../lib/ui/lines.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const PASSWORD = "correct horse battery staple";

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
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  const aliceDir = await tempDir("ssp-client-");
  const bobDir = await tempDir("ssp-client-");
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: PASSWORD };
  const as = (phone: string, dir: string) => ["--phone", phone, "--data", dir];
  let listener: Deno.ChildProcess | undefined;
  try {
    for (const [phone, dir] of [[ALICE, aliceDir], [BOB, bobDir]]) {
      assert.equal((await run("client.ts", ["register", ...as(phone!, dir!)], env)).code, 0);
    }
    listener = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, "client.ts", "listen", ...as(BOB, bobDir)],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const errors = lines(listener.stderr);
    assert.match((await errors.next()).value, /listening as/);
    const sent = await run("client.ts", ["send", ...as(ALICE, aliceDir), "--to", BOB, ATTACK], env);
    assert.equal(sent.code, 0, sent.stderr);
    // listen prints the message's two lines; read until the second.
    const out = lines(listener.stdout);
    const shown = [(await out.next()).value, (await out.next()).value, (await out.next()).value];
    assertInert(
      shown.filter((l) => l.includes("hi\\r") || l.includes("forged")).join("\n"),
      "listen",
    );

    const history = await run("client.ts", ["history", ...as(BOB, bobDir), "--with", ALICE], env);
    assert.equal(history.code, 0, history.stderr);
    assertInert(history.stdout + history.stderr, "history");

    const json = await run(
      "client.ts",
      ["history", ...as(BOB, bobDir), "--with", ALICE, "--json"],
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
    await stopServer(server, serverDir, aliceDir, bobDir);
  }
});

Deno.test("escape sequences in a message reach the interactive session escaped", async () => {
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  const aliceDir = await tempDir("ssp-client-");
  const bobDir = await tempDir("ssp-client-");
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: PASSWORD };
  const as = (phone: string, dir: string) => ["--phone", phone, "--data", dir];
  for (const [phone, dir] of [[ALICE, aliceDir], [BOB, bobDir]]) {
    assert.equal((await run("client.ts", ["register", ...as(phone!, dir!)], env)).code, 0);
  }
  const bob = clientOnTerminal(as(BOB, bobDir), env);
  try {
    await bob.waitFor("logged in as");
    await bob.type(`/to ${ALICE}\r`);
    await bob.waitFor(`no messages yet with ${ALICE}`);
    const from = bob.raw().length;
    const fromText = bob.text().length;
    const sent = await run("client.ts", ["send", ...as(ALICE, aliceDir), "--to", BOB, ATTACK], env);
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
    await stopServer(server, serverDir, aliceDir, bobDir);
  }
});
