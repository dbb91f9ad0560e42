/**
 * MongoStateChain on a real MongoDB-protocol server (FerretDB started for
 * this file, or the MongoDB named by `SSP_TEST_MONGO_URL`): the retry of a
 * change whose base version was deleted while it was in flight, driven
 * deterministically through the `beforeInsert` hook. Never skipped.
 */
import assert from "node:assert/strict";
import { type Db, MongoClient } from "mongodb";
import { dropDatabase, startFerretDb } from "../../scripts/ferretdb.ts";
import { KEPT_VERSIONS, MongoStateChain } from "./mongo_chain.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret = external ? null : await startFerretDb();
const url = external ?? ferret!.url;
const KEY = "counter";

interface Counter {
  n: number;
}

async function withDb(body: (db: Db) => Promise<void>): Promise<void> {
  const dbName = `ssp_chain_${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 8)}`;
  const client = new MongoClient(url);
  try {
    await body(client.db(dbName));
  } finally {
    await client.close();
    await dropDatabase(url, dbName);
  }
}

function increment(chain: MongoStateChain<Counter>): Promise<void> {
  return chain.change(KEY, (state) => ({ n: (state?.n ?? 0) + 1 }));
}

Deno.test("a change whose base version is deleted before its insert takes the insert back and applies itself to the newest state", async () => {
  await withDb(async (db) => {
    const other = await MongoStateChain.open<Counter>(db, "chain");
    for (let i = 0; i < 5; i++) await increment(other); // versions 1 … 5, n = 5
    // Changes by another server meanwhile: versions 6 … 25; the prune at version 24 deletes
    // versions 2 … 24 − KEPT_VERSIONS = 8.
    const overtaken = KEPT_VERSIONS + 4;
    let hooked = false;
    const chain = await MongoStateChain.open<Counter>(db, "chain", {
      async beforeInsert(key, version) {
        if (hooked) return;
        hooked = true;
        assert.equal(version, 6, "read version 5");
        // Among the pruned: 5 (this change's base) and 6 (the version it is about to insert).
        for (let i = 0; i < overtaken; i++) await increment(other);
        const docs = db.collection<{ _id: string }>("chain");
        assert.equal(await docs.countDocuments({ _id: `${key}:5` }), 0, "the base was pruned");
        assert.equal(await docs.countDocuments({ _id: `${key}:6` }), 0);
      },
    });
    const seen: number[] = [];
    await chain.change(KEY, (state) => {
      seen.push(state?.n ?? 0);
      return { n: (state?.n ?? 0) + 1 };
    });
    // The first attempt built on n = 5 and its insert (version 6) went through, stale; the
    // check found version 5 gone, so the insert was taken back and the change read again.
    assert.deepEqual(seen, [5, 5 + overtaken]);
    assert.deepEqual(await chain.read(KEY), { n: 5 + overtaken + 1 }, "no change lost");
    const docs = db.collection<{ _id: string; version: number }>("chain");
    assert.equal(await docs.countDocuments({ _id: `${KEY}:6` }), 0, "the stale insert is gone");
    const newest = await docs.find({ key: KEY }).sort({ version: -1 }).limit(1).next();
    assert.equal(newest?.version, 5 + overtaken + 1);
    // And the chain goes on from there.
    await increment(other);
    assert.deepEqual(await chain.read(KEY), { n: 5 + overtaken + 2 });
  });
});

Deno.test("a change built on version 1 (never deleted) whose version 2 was pruned meanwhile is taken back too", async () => {
  await withDb(async (db) => {
    const other = await MongoStateChain.open<Counter>(db, "chain");
    await increment(other); // version 1, n = 1
    const overtaken = KEPT_VERSIONS + 4; // versions 2 … 21; the prune at 20 deletes 2 … 4
    let hooked = false;
    const chain = await MongoStateChain.open<Counter>(db, "chain", {
      async beforeInsert(key, version) {
        if (hooked) return;
        hooked = true;
        assert.equal(version, 2, "read version 1");
        for (let i = 0; i < overtaken; i++) await increment(other);
        const docs = db.collection<{ _id: string }>("chain");
        assert.equal(await docs.countDocuments({ _id: `${key}:2` }), 0, "version 2 was pruned");
        assert.equal(await docs.countDocuments({ _id: `${key}:1` }), 1, "version 1 never is");
      },
    });
    const seen: number[] = [];
    await chain.change(KEY, (state) => {
      seen.push(state?.n ?? 0);
      return { n: (state?.n ?? 0) + 1 };
    });
    // Its base still exists, yet its insert of version 2 is stale: the chain is at 21.
    assert.deepEqual(seen, [1, 1 + overtaken]);
    assert.deepEqual(await chain.read(KEY), { n: 1 + overtaken + 1 }, "no change lost");
    const docs = db.collection<{ _id: string }>("chain");
    assert.equal(await docs.countDocuments({ _id: `${KEY}:2` }), 0, "the stale insert is gone");
  });
});

Deno.test("read() gives the newest state without changing anything", async () => {
  await withDb(async (db) => {
    const chain = await MongoStateChain.open<Counter>(db, "chain");
    assert.equal(await chain.read(KEY), null);
    for (let i = 0; i < 3; i++) await increment(chain);
    assert.deepEqual(await chain.read(KEY), { n: 3 });
    assert.equal(await db.collection("chain").countDocuments({ key: KEY }), 3);
  });
});
