/**
 * The FileStore contract on MongoDB: FerretDB started for this file, or the
 * MongoDB named by `SSP_TEST_MONGO_URL`. Never skipped.
 */
import assert from "node:assert/strict";
import { dropDatabase, startFerretDb } from "../../scripts/ferretdb.ts";
import { fileStoreContract } from "./file_contract.ts";
import { MongoFileStore } from "./mongo_files.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret = external ? null : await startFerretDb();
const url = external ?? ferret!.url;
let n = 0;

fileStoreContract("MongoFileStore", async () => {
  const dbName = `ssp_files_${Date.now().toString(36)}_${n++}`;
  return {
    files: await MongoFileStore.connect(url, { dbName }),
    cleanup: () => dropDatabase(url, dbName),
  };
});

/** Two file stores (two servers) on one fresh database. */
async function twoStores(): Promise<[MongoFileStore, MongoFileStore, () => Promise<void>]> {
  const dbName = `ssp_leases_${Date.now().toString(36)}_${n++}`;
  const a = await MongoFileStore.connect(url, { dbName });
  const b = await MongoFileStore.connect(url, { dbName });
  return [a, b, async () => {
    await a.close();
    await b.close();
    await dropDatabase(url, dbName);
  }];
}

Deno.test("upload leases: one holder across stores; renewed by it, free again once released", async () => {
  const [a, b, cleanup] = await twoStores();
  try {
    const fileId = "0123456789abcdef0123456789abcdef";
    assert.equal(await a.leases.acquire(fileId, "one", 60_000), true);
    assert.equal(await b.leases.acquire(fileId, "two", 60_000), false);
    assert.equal(await a.leases.acquire(fileId, "one", 60_000), true, "renewal by the holder");
    await b.leases.release(fileId, "two"); // not the holder: no effect
    assert.equal(await b.leases.acquire(fileId, "two", 60_000), false);
    await a.leases.release(fileId, "one");
    assert.equal(await b.leases.acquire(fileId, "two", 60_000), true);
    assert.equal(await a.leases.acquire(fileId, "one", 60_000), false);
    // Another file's lease is independent.
    assert.equal(await a.leases.acquire("f".repeat(32), "one", 60_000), true);
  } finally {
    await cleanup();
  }
});

Deno.test("upload leases: a lease that is not renewed lapses, and its holder cannot renew it once taken", async () => {
  const [a, b, cleanup] = await twoStores();
  try {
    const fileId = "0123456789abcdef0123456789abcdee";
    assert.equal(await a.leases.acquire(fileId, "dead", 300), true);
    assert.equal(await b.leases.acquire(fileId, "next", 60_000), false);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(await b.leases.acquire(fileId, "next", 60_000), true);
    assert.equal(await a.leases.acquire(fileId, "dead", 300), false);
  } finally {
    await cleanup();
  }
});

Deno.test("upload leases: of 20 parallel takers on two stores exactly one gets the lease", async () => {
  const [a, b, cleanup] = await twoStores();
  try {
    for (let round = 0; round < 3; round++) {
      const fileId = `${round}`.padStart(32, "0");
      const got = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) => (i % 2 ? a : b).leases.acquire(fileId, `h${i}`, 60_000),
        ),
      );
      assert.equal(got.filter(Boolean).length, 1, `round ${round}: ${got}`);
    }
  } finally {
    await cleanup();
  }
});
