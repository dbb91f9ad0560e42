import assert from "node:assert/strict";
import { join } from "node:path";
import { dropDatabase, type FerretDb, startFerretDb } from "../../scripts/ferretdb.ts";
import { StorageError } from "../errors.ts";
import { DiskFileStore, EMBEDDED_FILES_DIR } from "./disk_files.ts";
import type { FileRecord, FileStore } from "./files.ts";
import { MongoFileStore } from "./mongo_files.ts";
import { account, envelope } from "./contract.ts";
import { migrateStore, MongoStore, openEmbeddedStore, openStoreDump, type Store } from "./mod.ts";
import type { StoredEnvelope } from "./types.ts";

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

/** The file store `ssp-server` opens beside the embedded store in `dataDir`. */
function openDiskFiles(dataDir: string): Promise<DiskFileStore> {
  return DiskFileStore.open(join(dataDir, EMBEDDED_FILES_DIR));
}

const SHARED = "a1".repeat(16);
const UNFINISHED = "0f".repeat(16);
const NOT_STARTED = "c3".repeat(16);
const CHUNK_BYTES = 1000;

/** Chunk `index` of a file: distinct, incompressible bytes. */
function fileChunk(fileId: string, index: number, length: number): Uint8Array {
  const seed = parseInt(fileId.slice(0, 2), 16) * 131 + index;
  return Uint8Array.from({ length }, (_, i) => ((i * 2654435761 + seed * 40503) >>> 13) & 255);
}

async function upload(
  files: FileStore,
  record: Omit<FileRecord, "committed" | "createdAt" | "announcements">,
  committed: number,
) {
  await files.createFile({
    ...record,
    announcement: new TextEncoder().encode(`sealed ${record.fileId}`),
  });
  for (let index = 0; index < committed; index++) {
    const length = Math.min(CHUNK_BYTES, record.cipherSize - index * CHUNK_BYTES);
    await files.writeChunk(record.fileId, index, fileChunk(record.fileId, index, length));
    if ((index + 1) % 5 === 0) await files.commit(record.fileId, index + 1);
  }
  await files.commit(record.fileId, committed);
}

/**
 * A complete 32-chunk file shared with a second recipient (two announcements),
 * an upload stopped after 17 of 20 chunks, and one with no chunk yet.
 */
async function populateFiles(files: FileStore): Promise<void> {
  const layout = (fileId: string, chunks: number, readers: string[]) => ({
    fileId,
    owner: ALICE,
    cipherSize: (chunks - 1) * CHUNK_BYTES + 337,
    chunkBytes: CHUNK_BYTES,
    chunks,
    readers,
  });
  await upload(files, layout(SHARED, 32, [BOB]), 32);
  await files.share(SHARED, [CAROL], new TextEncoder().encode("sealed again, for carol"));
  await upload(files, { ...layout(UNFINISHED, 20, [CAROL]), owner: BOB }, 17);
  // Written but never committed, as when a sender drops mid-batch: not part of the file yet.
  await files.writeChunk(UNFINISHED, 17, fileChunk(UNFINISHED, 17, CHUNK_BYTES));
  await upload(files, layout(NOT_STARTED, 3, []), 0);
}

/** Every file record, every committed chunk, and what each person sees. */
async function fileSnapshot(files: FileStore): Promise<unknown> {
  const records: Record<string, { record: FileRecord | null; chunks: Uint8Array[] }> = {};
  for (const fileId of [SHARED, UNFINISHED, NOT_STARTED]) {
    const record = await files.getFile(fileId);
    const chunks: Uint8Array[] = [];
    for (let index = 0; index < (record?.committed ?? 0); index++) {
      chunks.push(await files.readChunk(fileId, index));
    }
    records[fileId] = { record, chunks };
  }
  const seen: Record<string, unknown> = {};
  for (const phone of [ALICE, BOB, CAROL]) {
    seen[phone] = {
      listed: (await files.listFiles(phone)).map((f) => f.fileId),
      used: await files.usedBytes(phone),
    };
  }
  return { records, seen };
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

Deno.test("migrateStore() copies an embedded store into MongoDB and back, seqs, times and files kept", async () => {
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
    const originalFiles = await openDiskFiles(dir);
    await populateFiles(originalFiles);
    const expectedFiles = await fileSnapshot(originalFiles);
    await originalFiles.close();

    const sqliteDump = await openStoreDump(dir);
    const mongoDump = await openStoreDump(url);
    const report = await migrateStore(sqliteDump, mongoDump);
    assert.equal(report.accounts, 3);
    assert.equal(report.envelopes, 1200);
    assert.equal(report.cursors, 2);
    assert.match(report.digests.envelopes, /^[0-9a-f]{64}$/);
    assert.equal(report.files, 3);
    assert.equal(report.fileBytes, 31 * CHUNK_BYTES + 337 + 17 * CHUNK_BYTES);
    assert.match(report.digests.files, /^[0-9a-f]{64}$/);

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
    const mongoFiles = await MongoFileStore.connect(url);
    try {
      assert.deepEqual(await fileSnapshot(mongoFiles), expectedFiles);
    } finally {
      await mongoFiles.close();
    }
    await mongoDump.close();

    const mongoAgain = await openStoreDump(url);
    const sqliteBack = await openStoreDump(back);
    const backReport = await migrateStore(mongoAgain, sqliteBack);
    assert.equal(backReport.envelopes, 1201);
    assert.equal(backReport.digests.accounts, report.digests.accounts);
    assert.equal(backReport.files, report.files);
    assert.equal(backReport.fileBytes, report.fileBytes);
    assert.equal(backReport.digests.files, report.digests.files);
    await Promise.all([mongoAgain.close(), sqliteBack.close(), sqliteDump.close()]);

    const backFiles = await openDiskFiles(back);
    try {
      assert.deepEqual(await fileSnapshot(backFiles), expectedFiles);
      await assert.rejects(backFiles.readChunk(UNFINISHED, 17), StorageError, "never committed");
      // The unfinished upload resumes on the copy where it stopped.
      for (let index = 17; index < 20; index++) {
        const length = Math.min(CHUNK_BYTES, 19 * CHUNK_BYTES + 337 - index * CHUNK_BYTES);
        await backFiles.writeChunk(UNFINISHED, index, fileChunk(UNFINISHED, index, length));
      }
      await backFiles.commit(UNFINISHED, 20);
      assert.deepEqual(await backFiles.readChunk(UNFINISHED, 19), fileChunk(UNFINISHED, 19, 337));
      assert.deepEqual(await backFiles.readChunk(UNFINISHED, 16), fileChunk(UNFINISHED, 16, 1000));
    } finally {
      await backFiles.close();
    }
  } finally {
    await dropDatabase(baseUrl, dbName);
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
    await dropDatabase(baseUrl, dbName);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrateStore() refuses a target that holds only a file, either way", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-migrate-" });
  const { url, dbName } = freshUrl();
  try {
    const targets: [string, FileStore][] = [
      [dir, await openDiskFiles(dir)],
      [url, await MongoFileStore.connect(url)],
    ];
    for (const [, files] of targets) {
      await upload(files, {
        fileId: SHARED,
        owner: ALICE,
        cipherSize: 1500,
        chunkBytes: CHUNK_BYTES,
        chunks: 2,
        readers: [],
      }, 1);
      await files.close();
    }
    const empty = await Deno.makeTempDir({ prefix: "ssp-migrate-empty-" });
    try {
      for (const [location] of targets) {
        const from = await openStoreDump(empty);
        const to = await openStoreDump(location);
        try {
          assert.equal(await to.messages.isEmpty(), true, "no account, envelope or cursor");
          await assert.rejects(migrateStore(from, to), (error) => {
            assert.ok(error instanceof StorageError);
            assert.match(error.message, /^Cannot migrate into .*: it holds data$/);
            assert.match(error.hint ?? "", /empty/);
            return true;
          });
          assert.ok(await to.files.getFile(SHARED), "the target is left as it was");
        } finally {
          await Promise.all([from.close(), to.close()]);
        }
      }
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
  } finally {
    await dropDatabase(baseUrl, dbName);
    await Deno.remove(dir, { recursive: true });
  }
});
