/**
 * The conformance suite of the FileStore interface: the disk store and the
 * MongoDB store run it unchanged.
 *
 * @module
 */
import assert from "node:assert/strict";
import { StorageError } from "../errors.ts";
import type { CreateResult, FileDump, FileRecord, FileStore, NewFile } from "./files.ts";

/** A fresh, empty file store and how to dispose of it. */
export interface FileStoreFixture {
  files: FileStore & FileDump;
  cleanup(): Promise<void>;
}

const OWNER = "+12015550101";
const READER = "+12015550102";
const OTHER = "+12015550103";

function newFile(fileId: string, chunks = 3, chunkBytes = 1040): NewFile {
  return {
    fileId,
    owner: OWNER,
    cipherSize: (chunks - 1) * chunkBytes + 100,
    chunkBytes,
    chunks,
    readers: [READER],
    announcement: new Uint8Array([1, 2, 3]),
  };
}

function chunk(index: number, length: number): Uint8Array {
  return new Uint8Array(length).fill(index + 1);
}

/** Registers the FileStore contract tests, each on a fresh store from `make`. */
export function fileStoreContract(name: string, make: () => Promise<FileStoreFixture>): void {
  const test = (what: string, body: (files: FileStore & FileDump) => Promise<void>) =>
    Deno.test(`${name}: ${what}`, async () => {
      const { files, cleanup } = await make();
      try {
        await body(files);
      } finally {
        await files.close().catch(() => {});
        await cleanup();
      }
    });

  test("createFile() creates once, then returns the same record", async (files) => {
    const first = created(await files.createFile(newFile("a".repeat(32))));
    assert.equal(first.committed, 0);
    assert.deepEqual(first.readers, [READER]);
    assert.deepEqual(first.announcements, [new Uint8Array([1, 2, 3])]);
    const again = await files.createFile(newFile("a".repeat(32)));
    assert.equal(again.status, "exists");
    assert.equal(again.status === "exists" && again.record.createdAt, first.createdAt);
    assert.equal(await files.getFile("b".repeat(32)), null);
  });

  test("createFile() of one new id by parallel creators: exactly one creates, all see its owner", async (files) => {
    const owners = Array.from({ length: 12 }, (_, i) => `+1201555${String(200 + i)}0`);
    for (let round = 0; round < 5; round++) {
      const id = String(round).repeat(32);
      const results = await Promise.all(
        owners.map((owner) => files.createFile({ ...newFile(id), owner })),
      );
      const winners = results.filter((r) => r.status === "created");
      assert.equal(winners.length, 1, `round ${round}: ${results.map((r) => r.status)}`);
      const owner = winners[0]!.status === "created" ? winners[0]!.record.owner : "";
      for (const result of results) {
        assert.equal(result.status === "over_quota" ? "" : result.record.owner, owner);
      }
      assert.equal((await files.getFile(id))?.owner, owner);
    }
  });

  test("createFile() refuses what would exceed the quota; an existing id is not counted again", async (files) => {
    const quota = 2 * (2 * 1040 + 100) + 50;
    created(await files.createFile(newFile("1".repeat(32)), quota));
    created(await files.createFile(newFile("2".repeat(32)), quota));
    assert.deepEqual(await files.createFile(newFile("3".repeat(32)), quota), {
      status: "over_quota",
      usedBytes: 2 * (2 * 1040 + 100),
    });
    assert.equal(await files.getFile("3".repeat(32)), null, "nothing stored");
    assert.equal((await files.createFile(newFile("1".repeat(32)), quota)).status, "exists");
    assert.equal(
      (await files.createFile({ ...newFile("3".repeat(32)), owner: OTHER }, quota)).status,
      "created",
      "other owners have their own quota",
    );
  });

  test("createFile() by parallel creators of one owner fills the quota exactly", async (files) => {
    const size = 2 * 1040 + 100;
    const quota = 4 * size;
    const ids = Array.from({ length: 24 }, (_, i) => i.toString(16).padStart(32, "0"));
    const results = await Promise.all(ids.map((id) => files.createFile(newFile(id), quota)));
    const made = results.filter((r) => r.status === "created").length;
    assert.equal(made, 4, `${made} files of ${size} bytes created under a quota of ${quota}`);
    assert.equal(made + results.filter((r) => r.status === "over_quota").length, ids.length);
    assert.equal(await files.usedBytes(OWNER), made * size);
    assert.equal((await all(files.allFiles())).length, made, "refused creations leave nothing");
    // Nothing stays reserved: once the winners are gone, four fit again, one after another.
    for (const id of ids) await files.deleteFile(id);
    for (const id of ids.slice(0, 4)) created(await files.createFile(newFile(id), quota));
    assert.equal((await files.createFile(newFile(ids[4]!), quota)).status, "over_quota");
  });

  test("chunks become readable when committed, byte for byte", async (files) => {
    const id = "c".repeat(32);
    const record = created(await files.createFile(newFile(id)));
    await files.writeChunk(id, 0, chunk(0, 1040));
    await files.writeChunk(id, 1, chunk(1, 1040));
    await assert.rejects(files.readChunk(id, 0), StorageError, "uncommitted chunks are not served");
    await files.commit(id, 2);
    assert.deepEqual(await files.readChunk(id, 0), chunk(0, 1040));
    assert.deepEqual(await files.readChunk(id, 1), chunk(1, 1040));
    await files.writeChunk(id, 2, chunk(2, 100));
    await files.commit(id, 3);
    assert.deepEqual(await files.readChunk(id, 2), chunk(2, 100));
    assert.equal((await files.getFile(id))?.committed, record.chunks);
  });

  test("readChunk() into a caller's buffer gives the same bytes, chunk after chunk", async (files) => {
    const id = "9".repeat(32);
    await files.createFile(newFile(id));
    for (const [index, length] of [[0, 1040], [1, 1040], [2, 100]] as const) {
      await files.writeChunk(id, index, chunk(index, length));
    }
    await files.commit(id, 3);
    const buffer = new Uint8Array(1040).fill(0xee);
    for (const [index, length] of [[0, 1040], [2, 100], [1, 1040]] as const) {
      assert.deepEqual(await files.readChunk(id, index, buffer), chunk(index, length));
    }
    assert.deepEqual(await files.readChunk(id, 0, new Uint8Array(10)), chunk(0, 1040), "too small");
  });

  test("a chunk rewritten after a resume is accepted and reads the same", async (files) => {
    const id = "d".repeat(32);
    await files.createFile(newFile(id));
    await files.writeChunk(id, 0, chunk(0, 1040));
    await files.commit(id, 1);
    await files.writeChunk(id, 0, chunk(0, 1040)); // the resumed sender starts at the commit
    await files.writeChunk(id, 1, chunk(1, 1040));
    await files.commit(id, 2);
    assert.deepEqual(await files.readChunk(id, 0), chunk(0, 1040));
    assert.deepEqual(await files.readChunk(id, 1), chunk(1, 1040));
  });

  test("the committed count never moves backwards", async (files) => {
    const id = "e".repeat(32);
    await files.createFile(newFile(id));
    await files.writeChunk(id, 0, chunk(0, 1040));
    await files.writeChunk(id, 1, chunk(1, 1040));
    await files.commit(id, 2);
    await files.commit(id, 1);
    assert.equal((await files.getFile(id))?.committed, 2);
  });

  test("share() adds readers and an announcement; listFiles() shows owners and readers only", async (files) => {
    const id = "f".repeat(32);
    await files.createFile(newFile(id));
    await files.share(id, [OTHER, READER], new Uint8Array([4]));
    const record = (await files.getFile(id))!;
    assert.deepEqual([...record.readers].sort(), [READER, OTHER].sort());
    assert.equal(record.announcements.length, 2);
    for (const phone of [OWNER, READER, OTHER]) {
      assert.deepEqual((await files.listFiles(phone)).map((f) => f.fileId), [id], phone);
    }
    assert.deepEqual(await files.listFiles("+12015550199"), []);
    await assert.rejects(files.share("0".repeat(32), [OTHER], new Uint8Array([5])), StorageError);
  });

  test("usedBytes() sums the owner's uploads", async (files) => {
    assert.equal(await files.usedBytes(OWNER), 0);
    await files.createFile(newFile("1".repeat(32), 3));
    await files.createFile(newFile("2".repeat(32), 2));
    assert.equal(await files.usedBytes(OWNER), 2 * 1040 + 100 + 1040 + 100);
    assert.equal(await files.usedBytes(READER), 0);
  });

  test("deleteFile() removes the record and its chunks, and frees the owner's quota", async (files) => {
    const [gone, kept] = ["7".repeat(32), "8".repeat(32)];
    for (const id of [gone, kept]) {
      await files.createFile(newFile(id, 2));
      await files.writeChunk(id, 0, chunk(0, 1040));
      await files.writeChunk(id, 1, chunk(1, 100));
      await files.commit(id, 2);
    }
    assert.equal(await files.usedBytes(OWNER), 2 * (1040 + 100));
    assert.equal(await files.deleteFile(gone), true);
    assert.equal(await files.getFile(gone), null);
    await assert.rejects(files.readChunk(gone, 0), StorageError);
    assert.deepEqual((await files.listFiles(OWNER)).map((f) => f.fileId), [kept]);
    assert.equal(await files.usedBytes(OWNER), 1040 + 100);
    assert.deepEqual(await files.readChunk(kept, 1), chunk(1, 100), "other files are untouched");
    assert.equal(await files.deleteFile(gone), false);
    await files.createFile(newFile(gone, 2)); // the id can be used again, starting empty
    assert.equal((await files.getFile(gone))?.committed, 0);
    await assert.rejects(files.readChunk(gone, 0), StorageError);
  });

  test("allFiles() yields every record by fileId, complete or not", async (files) => {
    assert.deepEqual(await all(files.allFiles()), [], "an empty store has none");
    const [done, started, fresh] = ["9".repeat(32), "3".repeat(32), "b".repeat(32)];
    for (const id of [fresh, done, started]) await files.createFile(newFile(id, 2));
    await files.writeChunk(done, 0, chunk(0, 1040));
    await files.writeChunk(done, 1, chunk(1, 100));
    await files.commit(done, 2);
    await files.writeChunk(started, 0, chunk(0, 1040));
    await files.commit(started, 1);
    await files.share(done, [OTHER], new Uint8Array([4]));
    const listed = await all(files.allFiles());
    assert.deepEqual(listed.map((f) => f.fileId), [started, done, fresh]);
    for (const record of listed) assert.deepEqual(record, await files.getFile(record.fileId));
    assert.deepEqual(listed.map((f) => f.committed), [1, 2, 0]);
  });

  test("importFile() keeps the record as it was, uncommitted; its chunks then commit as usual", async (files) => {
    const { announcement, ...declared } = newFile("5".repeat(32), 3);
    const record: FileRecord = {
      ...declared,
      committed: 2,
      readers: [READER, OTHER],
      announcements: [announcement, new Uint8Array([4]), new Uint8Array([5, 6])],
      createdAt: 1_600_000_000_123,
    };
    await files.importFile(record);
    assert.deepEqual(await files.getFile(record.fileId), { ...record, committed: 0 });
    await assert.rejects(files.readChunk(record.fileId, 0), StorageError, "no chunk yet");
    await files.writeChunk(record.fileId, 0, chunk(0, 1040));
    await files.writeChunk(record.fileId, 1, chunk(1, 1040));
    await files.commit(record.fileId, 2);
    assert.deepEqual(await files.getFile(record.fileId), record);
    assert.deepEqual(await files.readChunk(record.fileId, 1), chunk(1, 1040));
    assert.equal(await files.usedBytes(OWNER), record.cipherSize);
    assert.deepEqual((await files.listFiles(OTHER)).map((f) => f.fileId), [record.fileId]);
    assert.deepEqual(await all(files.allFiles()), [record]);
  });

  test("imported and deleted files count toward the quota like created ones", async (files) => {
    const size = 2 * 1040 + 100;
    const quota = 3 * size;
    created(await files.createFile(newFile("1".repeat(32)), quota));
    const { announcement, ...declared } = newFile("2".repeat(32));
    await files.importFile({
      ...declared,
      committed: 0,
      announcements: [announcement],
      createdAt: 1,
    });
    created(await files.createFile(newFile("3".repeat(32)), quota));
    assert.deepEqual(await files.createFile(newFile("4".repeat(32)), quota), {
      status: "over_quota",
      usedBytes: quota,
    });
    assert.equal(await files.deleteFile("2".repeat(32)), true);
    created(await files.createFile(newFile("4".repeat(32)), quota));
  });

  test("importFile() refuses an id that is taken and leaves that file alone", async (files) => {
    const id = "6".repeat(32);
    const record = created(await files.createFile(newFile(id, 2)));
    await files.writeChunk(id, 0, chunk(0, 1040));
    await files.commit(id, 1);
    const taken = { ...record, owner: OTHER, readers: [], createdAt: 1 };
    await assert.rejects(files.importFile(taken), StorageError);
    assert.deepEqual(await files.getFile(id), { ...record, committed: 1 });
    assert.deepEqual(await files.readChunk(id, 0), chunk(0, 1040));
  });
}

/** The record of a "created" result; fails on any other. */
function created(result: CreateResult): FileRecord {
  assert.equal(result.status, "created");
  return (result as { record: FileRecord }).record;
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
