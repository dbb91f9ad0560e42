/**
 * The shared login back-off on MongoDB: FerretDB started for this file, or
 * the MongoDB named by `SSP_TEST_MONGO_URL`. Never skipped. (Parallel logins
 * through three servers: tests/scale_test.ts.)
 */
import assert from "node:assert/strict";
import { type Db, MongoClient } from "mongodb";
import { dropDatabase, startFerretDb } from "../../scripts/ferretdb.ts";
import { NUMBER_POLICY } from "../server/throttle.ts";
import { MongoThrottle, RESERVATION_MS } from "./mongo_throttle.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret = external ? null : await startFerretDb();
const url = external ?? ferret!.url;
const KEY = "+12015550101";
const ALLOWED = NUMBER_POLICY.freeFailures + 1;
let n = 0;

async function withThrottles(
  body: (a: MongoThrottle, b: MongoThrottle, clock: { now: number }, db: Db) => Promise<void>,
): Promise<void> {
  const dbName = `ssp_throttle_${Date.now().toString(36)}_${n++}`;
  const client = new MongoClient(url);
  const clock = { now: Date.now() };
  try {
    const db = client.db(dbName);
    const a = await MongoThrottle.open(db, NUMBER_POLICY, () => clock.now);
    const b = await MongoThrottle.open(db, NUMBER_POLICY, () => clock.now);
    await body(a, b, clock, db);
  } finally {
    await client.close();
    await dropDatabase(url, dbName);
  }
}

Deno.test("two throttles on one database reserve from one allowance, at once", async () => {
  await withThrottles(async (a, b) => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).reserve(KEY)),
    );
    // Nothing failed yet: attempts in flight are admitted while they could all fail within the
    // allowance (5 free failures and the one that earns the first delay), the rest refused.
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
  await withThrottles(async (a, b, _clock, db) => {
    for (let i = 0; i < 60; i++) {
      const { wait, id } = await a.reserve(KEY);
      assert.equal(wait, 0);
      await a.settle(KEY, id, false); // successes: no failure, no block (120 versions)
    }
    const kept = await db.collection("login_throttle").countDocuments({ key: KEY });
    assert.ok(kept <= 1 + 16 + 4, `${kept} versions kept`); // version 1, the last 16, 4 at most not yet pruned
    for (let i = 0; i < ALLOWED; i++) {
      const { wait, id } = await b.reserve(KEY);
      assert.equal(wait, 0);
      await b.settle(KEY, id, true);
    }
    assert.ok((await a.reserve(KEY)).wait > 0, "blocked after the allowance");
  });
});
