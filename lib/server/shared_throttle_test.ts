/**
 * The shared login back-off over a real MongoDB chain: FerretDB started for
 * this file, or the MongoDB named by `SSP_TEST_MONGO_URL`. Never skipped.
 * (Parallel logins through three servers: tests/scale_test.ts.)
 */
import assert from "node:assert/strict";
import { dropDatabase, startFerretDb } from "../../scripts/ferretdb.ts";
import { MongoStore } from "../store/mod.ts";
import { KEPT_VERSIONS } from "../store/mongo_chain.ts";
import {
  ChainThrottle,
  RESERVATION_MS,
  reserveEach,
  sharedLoginThrottles,
  type StoredThrottleState,
} from "./shared_throttle.ts";
import { DEVICE_POLICY, NUMBER_POLICY } from "./throttle.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret = external ? null : await startFerretDb();
const url = external ?? ferret!.url;
const KEY = "+12015550101";
/** 5 free failures and the one that earns the first delay. */
const ALLOWED = NUMBER_POLICY.freeFailures + 1;
let n = 0;

/** Two throttles (two servers) on one fresh database, sharing a settable clock. */
async function withThrottles(
  body: (
    a: ChainThrottle,
    b: ChainThrottle,
    clock: { now: number },
    versions: (key?: string) => Promise<number>,
  ) => Promise<void>,
  policy = NUMBER_POLICY,
): Promise<void> {
  const dbName = `ssp_throttle_${Date.now().toString(36)}_${n++}`;
  const stores = [
    await MongoStore.connect(url, { dbName }),
    await MongoStore.connect(url, { dbName }),
  ];
  const clock = { now: Date.now() };
  try {
    const [a, b] = await Promise.all(stores.map(async (store) =>
      new ChainThrottle(
        await store.stateChain<StoredThrottleState>("login_throttle"),
        policy,
        () => clock.now,
      )
    ));
    const { MongoClient } = await import("mongodb");
    const client = new MongoClient(url);
    try {
      const versions = (key = KEY) =>
        client.db(dbName).collection("login_throttle").countDocuments({ key });
      await body(a!, b!, clock, versions);
    } finally {
      await client.close();
    }
  } finally {
    for (const store of stores) await store.close();
    await dropDatabase(url, dbName);
  }
}

Deno.test("two throttles on one database reserve from one allowance, at once", async () => {
  await withThrottles(async (a, b) => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).reserve(KEY)),
    );
    // Nothing failed yet: attempts in flight are admitted while they could all fail within the
    // allowance, the rest refused.
    const admitted = results.filter((r) => r.wait === 0);
    assert.equal(admitted.length, ALLOWED);
    for (const [i, r] of admitted.entries()) await (i % 2 ? a : b).settle(KEY, r.id, true);
    assert.ok((await a.reserve(KEY)).wait > 0, `blocked after ${ALLOWED} failures`);
    assert.ok((await b.reserve(KEY)).wait > 0);
  });
});

Deno.test("a reservation never settled (its server died) stops counting after RESERVATION_MS", async () => {
  await withThrottles(async (a, b, clock) => {
    for (let i = 0; i < ALLOWED; i++) assert.equal((await a.reserve(KEY)).wait, 0);
    assert.ok((await b.reserve(KEY)).wait > 0, "the allowance is held by attempts in flight");
    clock.now += RESERVATION_MS + 1;
    const later = await b.reserve(KEY);
    assert.equal(later.wait, 0);
    await b.release(KEY, later.id);
  });
});

Deno.test("old versions of a number's state are deleted; the state survives", async () => {
  await withThrottles(async (a, b, _clock, versions) => {
    for (let i = 0; i < 60; i++) {
      const { wait, id } = await a.reserve(KEY);
      assert.equal(wait, 0);
      await a.settle(KEY, id, false); // successes: no failure, no block (120 versions)
    }
    // Version 1, the last KEPT_VERSIONS, and at most 3 not yet pruned (every 4th change prunes).
    const kept = await versions();
    assert.ok(kept <= 1 + KEPT_VERSIONS + 3, `${kept} versions kept`);
    for (let i = 0; i < ALLOWED; i++) {
      const { wait, id } = await b.reserve(KEY);
      assert.equal(wait, 0);
      await b.settle(KEY, id, true);
    }
    assert.ok((await a.reserve(KEY)).wait > 0, "blocked after the allowance");
  });
});

Deno.test("record() counts unreserved failures for every server; peek() sees the block; a success clears it", async () => {
  await withThrottles(async (a, b, clock, versions) => {
    assert.deepEqual(await a.peek(KEY), { wait: 0, failures: 0 });
    await a.record(KEY, false);
    assert.equal(await versions(), 0, "a success with nothing to clear writes nothing");
    for (let i = 0; i < DEVICE_POLICY.freeFailures; i++) await (i % 2 ? a : b).record(KEY, true);
    assert.deepEqual(await b.peek(KEY), { wait: 0, failures: DEVICE_POLICY.freeFailures });
    await a.record(KEY, true); // the one that earns the first delay
    assert.deepEqual(await b.peek(KEY), { wait: DEVICE_POLICY.baseDelayMs, failures: 6 });
    clock.now += DEVICE_POLICY.baseDelayMs;
    await b.record(KEY, false); // DEVICE_POLICY: a success clears the key
    assert.deepEqual(await a.peek(KEY), { wait: 0, failures: 0 });
    const written = await versions();
    await b.record(KEY, false);
    assert.equal(await versions(), written, "nothing left to clear: no write");
  }, DEVICE_POLICY);
});

Deno.test("sharedLoginThrottles keeps numbers, addresses and devices apart in one chain", async () => {
  const dbName = `ssp_throttle_${Date.now().toString(36)}_${n++}`;
  const store = await MongoStore.connect(url, { dbName });
  try {
    const chain = await store.stateChain<StoredThrottleState>("login_throttle");
    const shared = sharedLoginThrottles(chain);
    for (let i = 0; i < ALLOWED; i++) await shared.devices.record(KEY, true);
    assert.ok((await shared.devices.peek(KEY)).wait > 0);
    assert.equal((await shared.numbers.peek(KEY)).wait, 0, "the number's budget is untouched");
    assert.equal((await shared.addresses.peek(KEY)).wait, 0);
    assert.equal((await chain.read(`dev:${KEY}`))?.failures, ALLOWED);
    // reserveEach: the device key refuses, so the number's reservation is given back.
    const both = await reserveEach([[shared.numbers, KEY], [shared.devices, KEY]]);
    assert.ok(both.wait > 0);
    assert.deepEqual((await chain.read(KEY))?.reservations, []);
    const granted = await reserveEach([[shared.numbers, KEY], [shared.addresses, "10.0.0.1"]]);
    assert.equal(granted.wait, 0);
    assert.equal((await chain.read("addr:10.0.0.1"))?.reservations.length, 1);
    await shared.addresses.release("10.0.0.1", granted.ids[1]!);
    await shared.numbers.release(KEY, granted.ids[0]!);
  } finally {
    await store.close();
    await dropDatabase(url, dbName);
  }
});
