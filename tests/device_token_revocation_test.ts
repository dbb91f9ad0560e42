/**
 * A password change revokes every device token issued before it
 * (docs/protocol.md §6.9), against a real server on the embedded store:
 * a device holding an earlier token counts as a new device again, held back
 * by the number's budget; the device that made the change, and any device
 * that logs in afterwards, gets a token of the new epoch that exempts it.
 * (Several servers on MongoDB: tests/scale_logins_test.ts.)
 */
import assert from "node:assert/strict";
import { changePassword, connect, RpcConnection, ServerError } from "../lib/client/mod.ts";
import { SspError } from "../lib/errors.ts";
import { NUMBER_POLICY } from "../lib/server/mod.ts";
import { startTestServer, tempDir, type TestServer } from "./harness.ts";
import { newUser, PASSWORD, tokenOf, userSession } from "./users.ts";

const OWNER = "+12015550101";
const NEW_PASSWORD = "a new password for the owner";

/** `count` wrong logins for `phone`, one after the other; their codes. */
async function guesses(server: TestServer, phone: string, count: number): Promise<string[]> {
  const { channel } = await connect({ server: server.address, dataDir: await tempDir() });
  const rpc = new RpcConnection(channel);
  try {
    const codes = [];
    for (let i = 0; i < count; i++) {
      const authKey = crypto.getRandomValues(new Uint8Array(32));
      const error = await rpc.request({ t: "login", phone, authKey })
        .then(() => assert.fail("a random auth key was accepted"), (e: unknown) => e);
      assert.ok(error instanceof ServerError, String(error));
      codes.push(error.code);
    }
    return codes;
  } finally {
    rpc.close();
  }
}

function isRateLimited(error: unknown): boolean {
  return error instanceof SspError && error.code === "rate_limited";
}

Deno.test("a password change ends earlier device tokens: that device counts as new; the changer's and later tokens work", async () => {
  let now = Date.now(); // moved by hand: no block runs out unless the test says so
  const server = await startTestServer({ accountLimits: { now: () => now } });
  try {
    const a = await newUser(server, OWNER); // device A: known
    const oldToken = tokenOf(a);
    assert.ok(oldToken);
    a.session.close();
    const b = await userSession(server, OWNER); // device B: known from here on
    const before = tokenOf(b);
    await changePassword(b.session.rpc, b.session.state, b.session.account, PASSWORD, NEW_PASSWORD);
    const changerToken = tokenOf(b);
    assert.ok(changerToken && before);
    assert.notDeepEqual(changerToken, before, "the change's reply carried a new token");
    b.session.close();

    // A guesser uses up the number's budget: 5 free failures and the one that earns a 1 s block.
    const allowed = NUMBER_POLICY.freeFailures + 1;
    assert.deepEqual(await guesses(server, OWNER, allowed + 1), [
      ...Array(allowed).fill("auth_failed"),
      "rate_limited",
    ]);
    // A still holds its token from before the change: no longer a known device, so the budget
    // holds it back even with the right (new) password.
    await assert.rejects(
      userSession(server, OWNER, { dataDir: a.dataDir, password: NEW_PASSWORD }),
      isRateLimited,
    );
    // B's token came with the change: it logs in through the block.
    const b2 = await userSession(server, OWNER, { dataDir: b.dataDir, password: NEW_PASSWORD });
    b2.session.close();

    // The block ends; A logs in as a new device and gets a token of the new epoch ...
    now += NUMBER_POLICY.baseDelayMs;
    const a2 = await userSession(server, OWNER, { dataDir: a.dataDir, password: NEW_PASSWORD });
    assert.notDeepEqual(tokenOf(a2), oldToken);
    a2.session.close();
    // ... which exempts it when the guesser blocks the number again.
    assert.deepEqual(await guesses(server, OWNER, 2), ["auth_failed", "rate_limited"]);
    const a3 = await userSession(server, OWNER, { dataDir: a.dataDir, password: NEW_PASSWORD });
    a3.session.close();
  } finally {
    await server.stop();
  }
});
