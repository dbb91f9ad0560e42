/**
 * The client's account and messaging commands as scripts use them:
 * register, send, listen (JSON lines), history, contacts, verify, passwd,
 * and the interactive session fed from standard input.
 */
import assert from "node:assert/strict";
import { tempDir } from "./harness.ts";
import { PERMISSIONS, ROOT, run, spawnServer, stopServer } from "./programs.ts";
import { lines } from "../lib/ui/mod.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const PASSWORD = "correct horse battery staple";

Deno.test("register, send, listen, history, contacts and verify work from the command line", async () => {
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  const aliceDir = await tempDir("ssp-client-");
  const bobDir = await tempDir("ssp-client-");
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: PASSWORD };
  const as = (phone: string, dir: string) => ["--phone", phone, "--data", dir];
  let listener: Deno.ChildProcess | undefined;
  try {
    const registered = await run("client.ts", ["register", ...as(ALICE, aliceDir), "--json"], env);
    assert.equal(registered.code, 0, registered.stderr);
    assert.deepEqual(JSON.parse(registered.stdout), { phone: ALICE, registered: true });
    // National format with --region, password on standard input.
    const bob = await run(
      "client.ts",
      [
        "register",
        "--phone",
        "(201) 555-0102",
        "--region",
        "US",
        "--data",
        bobDir,
        "--password-stdin",
      ],
      { SSP_SERVER: env.SSP_SERVER },
      `${PASSWORD}\n`,
    );
    assert.equal(bob.code, 0, bob.stderr);
    assert.match(bob.stdout, /registered \+12015550102/);
    const taken = await run(
      "client.ts",
      ["register", ...as(ALICE, await tempDir()), "--json"],
      env,
    );
    assert.equal(taken.code, 1);
    assert.equal(JSON.parse(taken.stdout).error.code, "phone_taken");

    listener = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, "client.ts", "listen", ...as(BOB, bobDir), "--json"],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const events = lines(listener.stdout);
    assert.equal(JSON.parse((await events.next()).value).type, "listening");

    const sent = await run("client.ts", [
      "send",
      ...as(ALICE, aliceDir),
      "--to",
      BOB,
      "--json",
      "hi",
      "bob",
    ], env);
    assert.equal(sent.code, 0, sent.stderr);
    const { id, seq } = JSON.parse(sent.stdout);
    const live = JSON.parse((await events.next()).value);
    assert.equal(live.type, "message");
    assert.equal(live.id, id);
    assert.equal(live.seq, seq);
    assert.equal(live.from, ALICE);
    assert.equal(live.text, "hi bob");
    assert.equal(live.verified, true);

    const history = await run("client.ts", [
      "history",
      ...as(ALICE, aliceDir),
      "--with",
      BOB,
      "--json",
    ], env);
    assert.equal(history.code, 0, history.stderr);
    const items = history.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(items[0].text, "hi bob");
    const text = await run("client.ts", ["history", ...as(BOB, bobDir), "--with", ALICE], env);
    assert.match(text.stdout, /\d\d:\d\d \+12015550101: hi bob/);

    const contacts = await run("client.ts", ["contacts", ...as(ALICE, aliceDir), "--json"], env);
    const contact = JSON.parse(contacts.stdout.trim().split("\n")[0]!);
    assert.equal(contact.phone, BOB);
    assert.equal(contact.status, "trusted");

    const mine = await run("client.ts", ["verify", BOB, ...as(ALICE, aliceDir), "--json"], env);
    const theirs = await run("client.ts", ["verify", ALICE, ...as(BOB, bobDir), "--json"], env);
    const a = JSON.parse(mine.stdout).safetyNumber;
    assert.match(a, /^(\d{5} ){11}\d{5}$/);
    assert.equal(
      a,
      JSON.parse(theirs.stdout).safetyNumber,
      "both sides see the same safety number",
    );
  } finally {
    listener?.kill("SIGTERM");
    await listener?.status;
    await listener?.stdout.cancel().catch(() => {});
    await stopServer(server, serverDir, aliceDir, bobDir);
  }
});

Deno.test("passwd changes the password; the old one stops working and the keys stay", async () => {
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  const dir = await tempDir("ssp-client-");
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: PASSWORD };
  const as = ["--phone", ALICE, "--data", dir];
  try {
    assert.equal((await run("client.ts", ["register", ...as], env)).code, 0);
    const short = await run("client.ts", ["passwd", ...as, "--json"], {
      ...env,
      SSP_NEW_PASSWORD: "short",
    });
    assert.equal(JSON.parse(short.stdout).error.code, "password_too_short");
    const changed = await run("client.ts", ["passwd", ...as, "--json"], {
      ...env,
      SSP_NEW_PASSWORD: "a much better passphrase",
    });
    assert.equal(changed.code, 0, changed.stdout + changed.stderr);
    const old = await run("client.ts", ["contacts", ...as, "--json"], env);
    assert.equal(JSON.parse(old.stdout).error.code, "auth_failed");
    // A fresh machine with the new password restores the same keys (same safety number).
    const fresh = await run(
      "client.ts",
      ["contacts", "--phone", ALICE, "--data", await tempDir()],
      {
        ...env,
        SSP_PASSWORD: "a much better passphrase",
      },
    );
    assert.equal(fresh.code, 0, fresh.stderr);
  } finally {
    await stopServer(server, serverDir, dir);
  }
});

Deno.test("the interactive session sends what is typed to the open conversation", async () => {
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: PASSWORD };
  const aliceDir = await tempDir("ssp-client-");
  const bobDir = await tempDir("ssp-client-");
  try {
    await run("client.ts", ["register", "--phone", ALICE, "--data", aliceDir], env);
    await run("client.ts", ["register", "--phone", BOB, "--data", bobDir], env);
    const session = await run(
      "client.ts",
      ["--phone", ALICE, "--data", aliceDir],
      env,
      `/help\n/to ${BOB}\nhello from the prompt\n/contacts\n/nonsense\n/quit\n`,
    );
    assert.equal(session.code, 0, session.stderr);
    assert.match(session.stdout, /logged in as \+12015550101/);
    assert.match(session.stdout, /\/to NUMBER/);
    assert.match(session.stdout, /no messages yet with \+12015550102/);
    assert.match(session.stdout, /\+12015550102 {2}SHA256:\S+ {2}trusted/);
    assert.match(session.stdout, /unknown command \/nonsense/);
    const history = await run("client.ts", [
      "history",
      "--phone",
      BOB,
      "--data",
      bobDir,
      "--with",
      ALICE,
      "--json",
    ], env);
    assert.equal(JSON.parse(history.stdout.trim().split("\n")[0]!).text, "hello from the prompt");
  } finally {
    await stopServer(server, serverDir, aliceDir, bobDir);
  }
});
