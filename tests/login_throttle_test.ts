/**
 * Password guessing against a real server: parallel bursts, an attacker
 * trying to lock the owner out, and a flood meant to push a blocked number
 * out of the throttle's table (docs/protocol.md §6.8–§6.9). The server's
 * throttle clock is frozen, so no block runs out while a test runs.
 */
import assert from "node:assert/strict";
import { changePassword, connect, RpcConnection, ServerError } from "../lib/client/mod.ts";
import { SspError } from "../lib/errors.ts";
import type { AccountLimits } from "../lib/server/mod.ts";
import { startTestServer, tempDir, type TestServer } from "./harness.ts";
import { newUser, PASSWORD, userSession } from "./users.ts";

const OWNER = "+12015550101";
const NEW_PASSWORD = "a new password for the owner";
const BURST = 50;
/** The per-number allowance: 5 free failures, and the attempt that earns the first delay. */
const ALLOWED = 6;

/**
 * The burst's connections all come from 127.0.0.1: let each have a slot (the per-address
 * connection limit, 32 by default, is tested in tests/limits_test.ts).
 */
const BURST_SLOTS = { maxConnectionsPerAddress: 2 * BURST };

function frozenClock(): AccountLimits {
  const now = Date.now();
  return { now: () => now };
}

async function rawRpcs(server: TestServer, count: number): Promise<RpcConnection[]> {
  const dataDir = await tempDir();
  const rpcs = [];
  for (let i = 0; i < count; i++) {
    rpcs.push(new RpcConnection((await connect({ server: server.address, dataDir })).channel));
  }
  return rpcs;
}

/** A login with a random auth key; resolves with the refusal's code. */
async function guess(rpc: RpcConnection, phone: string): Promise<string> {
  const authKey = crypto.getRandomValues(new Uint8Array(32));
  const error = await rpc.request({ t: "login", phone, authKey }).then(
    () => assert.fail("a random auth key was accepted"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ServerError, String(error));
  return error.code;
}

function count(codes: string[], code: string): number {
  return codes.filter((c) => c === code).length;
}

Deno.test("50 wrong passwords at once on 50 connections get only the policy's allowance checked", async () => {
  const server = await startTestServer({ accountLimits: frozenClock(), ...BURST_SLOTS });
  const owner = await newUser(server, OWNER);
  owner.session.close();
  const rpcs = await rawRpcs(server, BURST);
  try {
    const codes = await Promise.all(rpcs.map((rpc) => guess(rpc, OWNER)));
    assert.equal(count(codes, "auth_failed"), ALLOWED, codes.join(","));
    assert.equal(count(codes, "rate_limited"), BURST - ALLOWED);
  } finally {
    for (const rpc of rpcs) rpc.close();
    await server.stop();
  }
});

Deno.test("during a guessing attack the owner still logs in from a known device", async () => {
  const server = await startTestServer({ accountLimits: frozenClock(), ...BURST_SLOTS });
  const owner = await newUser(server, OWNER); // registering logs in: this device is now known
  owner.session.close();
  const rpcs = await rawRpcs(server, BURST);
  try {
    const codes = await Promise.all(rpcs.map((rpc) => guess(rpc, OWNER)));
    assert.equal(count(codes, "rate_limited"), BURST - ALLOWED);
    // The owner's device holds a device token: the number's budget does not apply to it.
    const again = await userSession(server, OWNER, { dataDir: owner.dataDir });
    // ... and can change the password while the attack goes on, then log in with the new one.
    const { session } = again;
    await changePassword(session.rpc, session.state, session.account, PASSWORD, NEW_PASSWORD);
    session.close();
    const renewed = await userSession(server, OWNER, {
      dataDir: owner.dataDir,
      password: NEW_PASSWORD,
    });
    renewed.session.close();
    // A device that never logged in is held back by the budget (the documented price).
    await assert.rejects(
      userSession(server, OWNER),
      (e: unknown) => e instanceof SspError && e.code === "rate_limited",
    );
    // The attacker is still refused, and a forged token buys nothing.
    const forged = await rpcs[0]!.request({
      t: "login",
      phone: OWNER,
      authKey: new Uint8Array(32),
      deviceToken: new Uint8Array(32),
    }).then(() => assert.fail("accepted"), (e: unknown) => e);
    assert.ok(forged instanceof ServerError && forged.code === "rate_limited", String(forged));
  } finally {
    for (const rpc of rpcs) rpc.close();
    await server.stop();
  }
});

Deno.test("a known device's wrong passwords are throttled by its own back-off", async () => {
  const server = await startTestServer({ accountLimits: frozenClock() });
  const owner = await newUser(server, OWNER);
  owner.session.close();
  try {
    const codes = [];
    for (let i = 0; i < 8; i++) {
      const error = await userSession(server, OWNER, {
        dataDir: owner.dataDir,
        password: "not the password at all",
      }).then(() => assert.fail("wrong password accepted"), (e: unknown) => e);
      assert.ok(error instanceof SspError);
      codes.push(error.code);
    }
    assert.deepEqual(codes, [
      ...Array(ALLOWED).fill("auth_failed"),
      "rate_limited",
      "rate_limited",
    ]);
    // That device's failures did not use up the number's budget for other devices.
    const other = await userSession(server, OWNER, { password: PASSWORD });
    other.session.close();
  } finally {
    await server.stop();
  }
});

Deno.test("a flood of other numbers cannot push a blocked number out of a full throttle table", async () => {
  // Tables of 2 entries; the address allows 20 failures, and the 15 below stay within it.
  const server = await startTestServer({ accountLimits: { ...frozenClock(), throttleEntries: 2 } });
  const owner = await newUser(server, OWNER);
  owner.session.close();
  const [rpc] = await rawRpcs(server, 1);
  try {
    for (let i = 0; i < ALLOWED; i++) assert.equal(await guess(rpc!, OWNER), "auth_failed");
    assert.equal(await guess(rpc!, OWNER), "rate_limited");
    // Three other numbers fail once each: each takes the free slot in turn, never the victim's.
    for (let n = 0; n < 3; n++) assert.equal(await guess(rpc!, `+1201555020${n}`), "auth_failed");
    assert.equal(await guess(rpc!, OWNER), "rate_limited", "the victim's block survived");
    // One more number blocked: the table is full of blocks, so a new number is refused
    // rather than a block forgotten.
    for (let i = 0; i < ALLOWED; i++) {
      assert.equal(await guess(rpc!, "+12015550301"), "auth_failed");
    }
    assert.equal(await guess(rpc!, "+12015550399"), "rate_limited");
    assert.equal(await guess(rpc!, OWNER), "rate_limited");
    // The owner's known device is unaffected.
    (await userSession(server, OWNER, { dataDir: owner.dataDir })).session.close();
  } finally {
    rpc!.close();
    await server.stop();
  }
});
