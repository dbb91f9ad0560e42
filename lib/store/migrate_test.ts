import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { type FerretDb, startFerretDb } from "../../scripts/ferretdb.ts";
import { StorageError } from "../errors.ts";
import { migrateStore, MongoStore, openEmbeddedStore, openStoreDump, type Store } from "./mod.ts";
import type { AccountRecord, NewEnvelope, StoredEnvelope } from "./types.ts";

// Like mongo_test.ts: FerretDB for this file, or SSP_TEST_MONGO_URL; never skipped.
const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret: FerretDb | null = external ? null : await startFerretDb();
const baseUrl = external ?? ferret!.url;

const ALICE = "+15550000001";
const BOB = "+15550000002";
const CAROL = "+15550000003";

let databases = 0;
function freshUrl(): { url: string; dbName: string } {
  const dbName = `ssp_migrate_${Date.now().toString(36)}_${databases++}`;
  return { url: baseUrl.replace(/\/?(\?|$)/, `/${dbName}$1`), dbName };
}

async function dropDatabase(dbName: string): Promise<void> {
  const client = new MongoClient(baseUrl);
  try {
    await client.db(dbName).dropDatabase();
  } finally {
    await client.close();
  }
}

function account(phone: string, seed: number): AccountRecord {
  const bytes = (n: number, s: number) =>
    Uint8Array.from({ length: n }, (_, i) => (i * 7 + s) & 255);
  return {
    phone,
    kdfSalt: bytes(16, seed),
    kdfParams: '{"alg":"argon2id"}',
    verifierSalt: bytes(16, seed + 1),
    verifier: bytes(32, seed + 2),
    encryptionKey: bytes(32, seed + 3),
    signingKey: bytes(32, seed + 4),
    keyBackup: bytes(80, seed + 5),
    createdAt: 1_700_000_000_000 + seed,
  };
}

function envelope(sender: string, clientId: string, recipients: string[]): NewEnvelope {
  return {
    sender,
    clientId,
    recipients,
    conversation: [...new Set([sender, ...recipients])].sort().join(","),
    body: crypto.getRandomValues(new Uint8Array(100)),
  };
}

/** Accounts, 1,200 envelopes (more than one write batch) with a gap, and cursors. */
async function populate(store: Store): Promise<void> {
  for (const [i, phone] of [ALICE, BOB, CAROL].entries()) {
    await store.createAccount(account(phone, i * 10));
  }
  const sends = Array.from(
    { length: 1200 },
    (_, i) =>
      envelope(i % 2 ? ALICE : BOB, `m${i}`, i % 3 ? [i % 2 ? BOB : ALICE] : [ALICE, CAROL]),
  );
  await store.appendEnvelopes(sends.slice(0, 600));
  await store.appendEnvelopes([sends[5]!]); // a duplicate: seqs need not be dense
  await store.appendEnvelopes(sends.slice(600));
  await store.setDeliveredSeq(BOB, 400);
  await store.setDeliveredSeq(ALICE, 1100);
}

/** Everything the interface shows, for comparing two stores. */
async function snapshot(store: Store): Promise<unknown> {
  const mailboxes: Record<string, StoredEnvelope[]> = {};
  const cursors: Record<string, number> = {};
  for (const phone of [ALICE, BOB, CAROL]) {
    mailboxes[phone] = await store.mailbox(phone, 0, 10_000);
    cursors[phone] = await store.getDeliveredSeq(phone);
  }
  return {
    accounts: await Promise.all([ALICE, BOB, CAROL].map((p) => store.getAccount(p))),
    mailboxes,
    cursors,
    history: await store.history(ALICE, `${ALICE},${BOB}`, { before: 900, limit: 50 }),
  };
}

Deno.test("migrateStore() copies an embedded store into MongoDB and back, seqs and times kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-migrate-" });
  const back = await Deno.makeTempDir({ prefix: "ssp-migrate-back-" });
  const { url, dbName } = freshUrl();
  try {
    const original = await openEmbeddedStore(dir);
    await populate(original);
    const expected = await snapshot(original);
    const lastSeq = Math.max(
      ...(await Promise.all([ALICE, BOB].map((p) => original.mailbox(p, 0, 10_000)))).flat()
        .map((e) => e.seq),
    );
    await original.close();

    const sqliteDump = await openStoreDump(dir);
    const mongoDump = await openStoreDump(url);
    const report = await migrateStore(sqliteDump, mongoDump);
    assert.equal(report.accounts, 3);
    assert.equal(report.envelopes, 1200);
    assert.equal(report.cursors, 2);
    assert.match(report.digests.envelopes, /^[0-9a-f]{64}$/);

    const mongo = await MongoStore.connect(url);
    try {
      assert.deepEqual(await snapshot(mongo), expected);
      // New appends continue the sequence after the copied envelopes.
      const [next] = await mongo.appendEnvelopes([envelope(ALICE, "after", [BOB])]);
      const [dup] = await mongo.appendEnvelopes([envelope(ALICE, "m1", [BOB])]);
      assert.equal(next!.seq, lastSeq + 1);
      assert.equal(dup!.duplicate, true);
    } finally {
      await mongo.close();
    }
    await mongoDump.close();

    const mongoAgain = await openStoreDump(url);
    const sqliteBack = await openStoreDump(back);
    const backReport = await migrateStore(mongoAgain, sqliteBack);
    assert.equal(backReport.envelopes, 1201);
    assert.equal(backReport.digests.accounts, report.digests.accounts);
    await Promise.all([mongoAgain.close(), sqliteBack.close(), sqliteDump.close()]);
  } finally {
    await dropDatabase(dbName);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(back, { recursive: true });
  }
});

Deno.test("migrateStore() refuses a target that already holds data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-migrate-" });
  const { url, dbName } = freshUrl();
  try {
    const target = await MongoStore.connect(url);
    await target.createAccount(account(CAROL, 1));
    await target.close();
    const from = await openStoreDump(dir);
    const to = await openStoreDump(url);
    try {
      await assert.rejects(migrateStore(from, to), (error) => {
        assert.ok(error instanceof StorageError);
        assert.match(
          error.message,
          /^Cannot migrate into MongoDB database ssp_migrate_.*: it holds data/,
        );
        assert.match(error.hint ?? "", /empty/);
        return true;
      });
    } finally {
      await Promise.all([from.close(), to.close()]);
    }
  } finally {
    await dropDatabase(dbName);
    await Deno.remove(dir, { recursive: true });
  }
});
