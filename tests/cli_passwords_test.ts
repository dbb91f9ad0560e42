/**
 * Passwords typed at the interactive client's prompts: never echoed, asked
 * again after a typo or when too short, and registration never offered for
 * a number that has an account.
 */
import assert from "node:assert/strict";
import { tempDir } from "./harness.ts";
import { run, spawnServer, stopServer } from "./programs.ts";
import { clientOnTerminal } from "./pty.ts";

const ALICE = "+12015550101";
const NEWCOMER = "+12015550103";
const PASSWORD = "correct horse battery staple";
const TYPO = "correct horse battery stapel";

async function withServer(test: (env: Record<string, string>) => Promise<void>) {
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  try {
    await test({ SSP_SERVER: `127.0.0.1:${server.port}` });
  } finally {
    await stopServer(server, serverDir);
  }
}

Deno.test("a mistyped password is asked again, unechoed, and registration is not offered", async () => {
  await withServer(async (env) => {
    const dir = await tempDir("ssp-client-");
    const registered = await run("client.ts", ["register", "--phone", ALICE, "--data", dir], {
      ...env,
      SSP_PASSWORD: PASSWORD,
    });
    assert.equal(registered.code, 0, registered.stderr);
    // This data dir logged in to the account before: the number is known to exist.
    const alice = clientOnTerminal(["--phone", ALICE, "--data", dir], env);
    try {
      await alice.waitFor("Password: ");
      await alice.type(`${TYPO}\r`);
      const wrong = await alice.waitFor("wrong password");
      const at = await alice.waitFor("Password: ", wrong);
      await alice.type(`${PASSWORD}\r`);
      await alice.waitFor(`logged in as ${ALICE}`, at);
      assert.doesNotMatch(alice.text(), /Register/);
      assert.ok(!alice.text().includes("horse"), "a password never appears on the terminal");
    } finally {
      assert.equal(await alice.close(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("on a new machine, the server's phone_taken ends the registration offer and the password is asked again", async () => {
  await withServer(async (env) => {
    const first = await tempDir("ssp-client-");
    const fresh = await tempDir("ssp-client-");
    const registered = await run("client.ts", ["register", "--phone", ALICE, "--data", first], {
      ...env,
      SSP_PASSWORD: PASSWORD,
    });
    assert.equal(registered.code, 0, registered.stderr);
    const alice = clientOnTerminal(["--phone", ALICE, "--data", fresh], env);
    try {
      await alice.waitFor("Password: ");
      await alice.type(`${TYPO}\r`);
      await alice.waitFor(`Register ${ALICE} now? [y/N]`);
      await alice.type("y\r");
      await alice.waitFor("Repeat the password: ");
      await alice.type(`${TYPO}\r`);
      await alice.waitFor(`${ALICE} already has an account, so the password was wrong`);
      const at = await alice.waitFor("Password: ", alice.text().indexOf("already has an account"));
      await alice.type(`${PASSWORD}\r`);
      await alice.waitFor(`logged in as ${ALICE}`, at);
      // Known now: a later typo is not offered registration again.
      assert.equal(alice.text().split("Register").length, 2);
      assert.ok(!alice.text().includes("horse"));
    } finally {
      assert.equal(await alice.close(), 0);
      for (const dir of [first, fresh]) await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("registering asks again for a password that is too short", async () => {
  await withServer(async (env) => {
    const dir = await tempDir("ssp-client-");
    const newcomer = clientOnTerminal(["--phone", NEWCOMER, "--data", dir], env);
    try {
      await newcomer.waitFor("Password: ");
      await newcomer.type("short\r");
      await newcomer.waitFor(`Register ${NEWCOMER} now? [y/N]`);
      await newcomer.type("y\r");
      await newcomer.waitFor("too short: a password has at least 8 characters; try again");
      await newcomer.waitFor("New password: ");
      await newcomer.type(`${PASSWORD}\r`);
      await newcomer.waitFor("Repeat the password: ");
      await newcomer.type(`${PASSWORD}\r`);
      await newcomer.waitFor(`logged in as ${NEWCOMER}`);
      assert.ok(!newcomer.text().includes("horse") && !newcomer.text().includes("short\n"));
    } finally {
      const code = await newcomer.close();
      assert.equal(code, 0, newcomer.text().slice(-1500));
      await Deno.remove(dir, { recursive: true });
    }
  });
});
