/**
 * Shared rate limits over a real MongoDB chain: FerretDB started for this
 * file, or the MongoDB named by `SSP_TEST_MONGO_URL`. Never skipped.
 * (Registrations through three servers: tests/scale_registrations_test.ts.)
 */
import assert from "node:assert/strict";
import { dropDatabase, startFerretDb } from "../../scripts/ferretdb.ts";
import { MongoStore } from "../store/mod.ts";
import type { Bucket } from "./rate_limit.ts";
import { ALL_ADDRESSES_KEY, ChainRateLimiter } from "./shared_registrations.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret = external ? null : await startFerretDb();
const url = external ?? ferret!.url;
const HOUR_MS = 3600_000;
const ADDRESS = "192.0.2.7";
let n = 0;

/**
 * Two limiters (two servers) of `perPeriod` an hour on one fresh database,
 * each with a clock of its own; `versions` counts a key's stored versions.
 */
async function withLimiters(
  perPeriod: number,
  body: (
    a: ChainRateLimiter,
    b: ChainRateLimiter,
    clocks: { a: number; b: number },
    versions: (key: string) => Promise<number>,
  ) => Promise<void>,
): Promise<void> {
  const dbName = `ssp_registrations_${Date.now().toString(36)}_${n++}`;
  const stores = [
    await MongoStore.connect(url, { dbName }),
    await MongoStore.connect(url, { dbName }),
  ];
  const start = Date.now();
  const clocks = { a: start, b: start };
  const policy = { perPeriod, periodMs: HOUR_MS };
  const { MongoClient } = await import("mongodb");
  const client = new MongoClient(url);
  try {
    const [chainA, chainB] = await Promise.all(
      stores.map((store) => store.stateChain<Bucket>("registration_limits")),
    );
    const a = new ChainRateLimiter(chainA!, policy, () => clocks.a);
    const b = new ChainRateLimiter(chainB!, policy, () => clocks.b);
    const versions = (key: string) =>
      client.db(dbName).collection("registration_limits").countDocuments({ key });
    await body(a, b, clocks, versions);
  } finally {
    await client.close();
    for (const store of stores) await store.close();
    await dropDatabase(url, dbName);
  }
}

Deno.test("two limiters on one database grant one allowance between them, at once", async () => {
  await withLimiters(4, async (a, b, clocks) => {
    const waits = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).take(ADDRESS)),
    );
    assert.equal(waits.filter((w) => w === 0).length, 4, waits.join(","));
    // Refused: the wait until one comes back (15 min at 4 an hour).
    for (const wait of waits.filter((w) => w > 0)) assert.equal(wait, HOUR_MS / 4);
    // One comes back after 15 min, through either server, and only one.
    clocks.a += HOUR_MS / 4;
    clocks.b += HOUR_MS / 4;
    assert.equal(await b.take(ADDRESS), 0);
    assert.equal(await a.take(ADDRESS), HOUR_MS / 4);
  });
});

Deno.test("a limiter's parallel takes of one key go to the database together", async () => {
  await withLimiters(5, async (a, _b, _clocks, versions) => {
    const waits = await Promise.all(Array.from({ length: 12 }, () => a.take(ADDRESS)));
    assert.deepEqual(waits.map((w) => w === 0), [...Array(5).fill(true), ...Array(7).fill(false)]);
    // The first take alone, the other 11 queued behind it in one change.
    assert.equal(await versions(`reg:${ADDRESS}`), 2);
  });
});

Deno.test("keys are apart: an address's bucket and the total", async () => {
  await withLimiters(1, async (a, b, _clocks, versions) => {
    assert.equal(await a.take(ADDRESS), 0);
    assert.ok(await b.take(ADDRESS) > 0);
    assert.equal(await b.take("192.0.2.8"), 0);
    assert.equal(await b.take(ALL_ADDRESSES_KEY), 0);
    assert.ok(await a.take(ALL_ADDRESSES_KEY) > 0);
    assert.equal(await versions("reg:*"), 1);
    assert.equal(await versions(`reg:${ADDRESS}`), 1);
  });
});

Deno.test("a server whose clock is behind regains nothing and gives no time twice", async () => {
  await withLimiters(2, async (a, b, clocks) => {
    const interval = HOUR_MS / 2;
    clocks.b = clocks.a - interval / 2; // b's clock half an interval behind
    assert.equal(await a.take(ADDRESS), 0); // 1 left, as of a's clock
    assert.equal(await b.take(ADDRESS), 0); // 0 left; the bucket's time stays a's
    // Half an interval later by a's clock: half a request back, not a whole one
    // (had b moved the bucket's time back, a would regain b's lag too).
    clocks.a += interval / 2;
    assert.equal(await a.take(ADDRESS), interval / 2);
    // b, still behind the bucket's time, regains nothing.
    assert.equal(await b.take(ADDRESS), interval);
  });
});
