/**
 * Login back-offs across servers: three in-process servers with one identity
 * key (so device tokens are valid on each, as with `ssp-server --mongo`
 * behind one name), each with its own MongoStore on one FerretDB database and
 * the login back-offs shared through it (`sharedLoginThrottles`). A guesser
 * who spreads attempts over the servers gets one server's allowance per
 * address, per number and per known device; a password change made through
 * one server revokes device tokens on all of them. The throttles' clock is
 * frozen, so no block runs out while a test runs. Never skipped.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { changePassword, connect, RpcConnection, ServerError } from "../lib/client/mod.ts";
import { SspError } from "../lib/errors.ts";
import {
  ADDRESS_POLICY,
  DEVICE_POLICY,
  IDENTITY_FILE,
  loadOrCreateIdentity,
  NUMBER_POLICY,
  sharedLoginThrottles,
} from "../lib/server/mod.ts";
import { MongoStore } from "../lib/store/mod.ts";
import { dropDatabase, startFerretDb } from "../scripts/ferretdb.ts";
import { startTestServer, tempDir, type TestServer } from "./harness.ts";
import { newUser, PASSWORD, tokenOf, userSession } from "./users.ts";

const ferret = await startFerretDb();
const OWNER = "+12015550101";
const SERVERS = 3;
let clusters = 0;

/** Runs `body` on three servers sharing one identity, one fresh database and its back-offs. */
async function withServers(body: (servers: TestServer[]) => Promise<void>): Promise<void> {
  const dbName = `ssp_logins_${Date.now().toString(36)}_${clusters++}`;
  const identityDir = await tempDir("ssp-identity-");
  await loadOrCreateIdentity(identityDir);
  const frozen = Date.now();
  const now = () => frozen;
  const parts: { server: TestServer; store: MongoStore }[] = [];
  try {
    for (let i = 0; i < SERVERS; i++) {
      const dataDir = await tempDir("ssp-server-");
      await Deno.copyFile(join(identityDir, IDENTITY_FILE), join(dataDir, IDENTITY_FILE));
      const store = await MongoStore.connect(ferret.url, { dbName });
      const shared = sharedLoginThrottles(await store.stateChain("login_throttle"), now);
      const server = await startTestServer({
        dataDir,
        store,
        accountLimits: { now, shared },
        cluster: { bus: null, pollIntervalMs: 600_000 },
      });
      parts.push({ server, store });
    }
    await body(parts.map((p) => p.server));
  } finally {
    for (const { server, store } of parts) {
      await server.stop();
      await store.close();
    }
    await Deno.remove(identityDir, { recursive: true });
    await dropDatabase(ferret.url, dbName);
  }
}

/** One raw connection to each of `servers`, `perServer` times over. */
async function rpcsTo(servers: TestServer[], perServer: number): Promise<RpcConnection[]> {
  const dataDir = await tempDir();
  const rpcs = [];
  for (let i = 0; i < perServer; i++) {
    for (const server of servers) {
      rpcs.push(new RpcConnection((await connect({ server: server.address, dataDir })).channel));
    }
  }
  return rpcs;
}

/** A login with a random auth key (and `deviceToken`); resolves with the refusal's code. */
async function guess(rpc: RpcConnection, phone: string, deviceToken?: Uint8Array): Promise<string> {
  const authKey = crypto.getRandomValues(new Uint8Array(32));
  const error = await rpc.request({
    t: "login",
    phone,
    authKey,
    ...(deviceToken ? { deviceToken } : {}),
  }).then(() => assert.fail("a random auth key was accepted"), (e: unknown) => e);
  assert.ok(error instanceof ServerError, String(error));
  return error.code;
}

function count(codes: string[], code: string): number {
  return codes.filter((c) => c === code).length;
}

async function closing<T>(rpcs: RpcConnection[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    for (const rpc of rpcs) rpc.close();
  }
}

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "wrong logins from one address spread over three servers get one server's allowance",
  ...options,
  async fn() {
    await withServers(async (servers) => {
      // 15 connections to each server, all from 127.0.0.1, each trying its own number (so no
      // number's budget binds), all at once.
      const rpcs = await rpcsTo(servers, 15);
      const codes = await closing(
        rpcs,
        () => Promise.all(rpcs.map((rpc, i) => guess(rpc, `+1201555${String(1000 + i)}`))),
      );
      // ADDRESS_POLICY: 20 free failures and the one that earns the first delay, over all
      // servers (each server alone would check all of its 15).
      const allowed = ADDRESS_POLICY.freeFailures + 1;
      assert.equal(count(codes, "auth_failed"), allowed, codes.join(","));
      assert.equal(count(codes, "rate_limited"), rpcs.length - allowed);
    });
  },
});

Deno.test({
  name: "a known device's wrong logins spread over three servers one at a time get one allowance",
  ...options,
  async fn() {
    await withServers(async (servers) => {
      const owner = await newUser(servers[0]!, OWNER);
      const token = tokenOf(owner)!;
      owner.session.close();
      const rpcs = await rpcsTo(servers, 1);
      const codes = await closing(rpcs, async () => {
        const codes = [];
        for (let i = 0; i < 9; i++) codes.push(await guess(rpcs[i % SERVERS]!, OWNER, token));
        return codes;
      });
      // DEVICE_POLICY: 5 free failures and the one that earns the first delay; each server
      // alone would allow 6 of its own (18).
      const allowed = DEVICE_POLICY.freeFailures + 1;
      assert.deepEqual(codes, [
        ...Array(allowed).fill("auth_failed"),
        ...Array(9 - allowed).fill("rate_limited"),
      ]);
      // Those were known-device failures: the number's budget for new devices is untouched.
      (await userSession(servers[1]!, OWNER)).session.close();
    });
  },
});

Deno.test({
  name: "a parallel burst of a known device's wrong logins over two servers gets at most two " +
    "allowances, and blocks the token on the third",
  ...options,
  async fn() {
    await withServers(async (servers) => {
      const owner = await newUser(servers[0]!, OWNER);
      const token = tokenOf(owner)!;
      owner.session.close();
      const burst = await rpcsTo(servers.slice(0, 2), 10);
      const [third] = await rpcsTo(servers.slice(2), 1);
      await closing([...burst, third!], async () => {
        const codes = await Promise.all(burst.map((rpc) => guess(rpc, OWNER, token)));
        // Known devices reserve nothing in the database (a successful login costs one read):
        // a burst through S servers gets at most S × 6 checks before its failures are written.
        const allowed = DEVICE_POLICY.freeFailures + 1;
        const checked = count(codes, "auth_failed");
        assert.ok(checked >= allowed && checked <= 2 * allowed, codes.join(","));
        assert.equal(count(codes, "rate_limited"), burst.length - checked);
        // The third server saw none of it, and refuses: the failures are shared.
        assert.equal(await guess(third!, OWNER, token), "rate_limited");
      });
    });
  },
});

Deno.test({
  name: "a password change through one server revokes device tokens on every server",
  ...options,
  async fn() {
    await withServers(async ([s0, s1, s2]) => {
      const a = await newUser(s0!, OWNER); // device A, known (its token from server 0)
      a.session.close();
      const b = await userSession(s1!, OWNER); // device B changes the password on server 1
      const newPassword = "a new password for the owner";
      await changePassword(
        b.session.rpc,
        b.session.state,
        b.session.account,
        PASSWORD,
        newPassword,
      );
      b.session.close();
      // A guesser uses up the number's budget through server 2.
      const [rpc] = await rpcsTo([s2!], 1);
      const allowed = NUMBER_POLICY.freeFailures + 1;
      const codes = await closing([rpc!], async () => {
        const codes = [];
        for (let i = 0; i <= allowed; i++) codes.push(await guess(rpc!, OWNER));
        return codes;
      });
      assert.deepEqual(codes, [...Array(allowed).fill("auth_failed"), "rate_limited"]);
      // A's token predates the change: on server 2 it is a new device, held by the budget.
      await assert.rejects(
        userSession(s2!, OWNER, { dataDir: a.dataDir, password: newPassword }),
        (e: unknown) => e instanceof SspError && e.code === "rate_limited",
      );
      // B's token, from the change, is known on server 0.
      (await userSession(s0!, OWNER, { dataDir: b.dataDir, password: newPassword })).session
        .close();
    });
  },
});
