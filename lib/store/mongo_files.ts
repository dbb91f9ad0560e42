/**
 * The file store on MongoDB: a `files` collection (one document per upload)
 * and a `file_chunks` collection (one document per encrypted chunk, `_id`
 * "FILEID:INDEX").
 *
 * Why a chunk collection and not GridFS: GridFS writes a file as one stream
 * and publishes it when the stream ends, while ssp needs chunk-level
 * commits — an upload resumes from the last committed chunk and a live
 * recipient reads chunks while the upload runs. With one document per chunk
 * and its id as the unique key, rewriting a chunk after a resume is an
 * idempotent insert (the same key and plaintext give the same ciphertext),
 * and readers find any committed chunk by id. Like GridFS it keeps each
 * document far below MongoDB's 16 MiB limit (chunks are at most 512 KiB).
 *
 * Chunks are buffered between commits and written by one `insertMany`
 * with the store's write concern (majority, journaled) before the committed
 * count moves: the count never covers a chunk that is not durable.
 *
 * The quota is kept in a `file_usage` collection as a chain of versions
 * per owner, `{_id: "OWNER:N", used}`: a reservation reads the newest
 * version N and inserts N+1 with `used` + size, if that fits the quota. The
 * unique `_id` lets exactly one of parallel reservations extend the chain
 * from N; the others read again. So parallel uploads, on one server or
 * several, never reserve more than the quota. (A conditional `$inc` would be
 * simpler on MongoDB, but FerretDB, which the tests run on, applies parallel
 * updates of one document without isolation: 24 parallel `$inc` of 1 left 1.)
 * A deletion gives the bytes back the same way. A crash between the
 * reservation and the insert of the file leaves the bytes counted; deleting
 * the owner's `file_usage` documents makes the next upload count them
 * afresh from `files`.
 *
 * `leases` (`upload_leases`, mongo_leases.ts) keep a file to one uploader at
 * a time across the servers sharing the database.
 *
 * @module
 */
import { Binary, type Collection, type Db, MongoBulkWriteError, MongoClient } from "mongodb";
import { StorageError } from "../errors.ts";
import { isDuplicateKey } from "./_mongo_errors.ts";
import type { CreateResult, FileDump, FileRecord, FileStore, NewFile } from "./files.ts";
import { MongoUploadLeases } from "./mongo_leases.ts";

interface FileDoc {
  _id: string;
  owner: string;
  cipherSize: number;
  chunkBytes: number;
  chunks: number;
  committed: number;
  readers: string[];
  announcements: Binary[];
  createdAt: number;
}

/** One version of an owner's usage: the bytes their files take. */
interface UsageDoc {
  /** "OWNER:VERSION": unique, so one version has one writer. */
  _id: string;
  owner: string;
  version: number;
  used: number;
}

/** Compare-and-set rounds a usage change may take before it gives up (then retried later). */
const MAX_USAGE_ATTEMPTS = 200;

interface ChunkDoc {
  _id: string;
  data: Binary;
}

const WRITE_CONCERN = { w: "majority", journal: true } as const;

/** Encrypted files in MongoDB. */
export class MongoFileStore implements FileStore, FileDump {
  readonly #client: MongoClient;
  readonly #files: Collection<FileDoc>;
  readonly #chunks: Collection<ChunkDoc>;
  readonly #usage: Collection<UsageDoc>;
  /** Upload leases (`upload_leases`), shared by every server on this database. */
  readonly leases: MongoUploadLeases;
  /** Chunks written since the last commit, by file. */
  readonly #pending = new Map<string, ChunkDoc[]>();

  private constructor(client: MongoClient, db: Db, leases: MongoUploadLeases) {
    this.#client = client;
    this.leases = leases;
    this.#files = db.collection<FileDoc>("files");
    this.#chunks = db.collection<ChunkDoc>("file_chunks");
    this.#usage = db.collection<UsageDoc>("file_usage");
  }

  /** Connects (same URL as the message store) and creates the owner index. */
  static async connect(url: string, options: { dbName?: string; timeoutMs?: number } = {}) {
    const timeoutMs = options.timeoutMs ?? 5000;
    const client = new MongoClient(url, {
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: 30_000,
      writeConcern: WRITE_CONCERN,
      appName: "ssp-server-files",
    });
    try {
      await client.connect();
      const db = client.db(options.dbName);
      const store = new MongoFileStore(client, db, await MongoUploadLeases.open(db));
      await store.#files.createIndex({ owner: 1 });
      await store.#files.createIndex({ readers: 1 });
      await store.#usage.createIndex({ owner: 1, version: -1 });
      return store;
    } catch (error) {
      await client.close().catch(() => {});
      throw failure("connect the file store", error);
    }
  }

  async createFile(file: NewFile, quotaBytes = Infinity): Promise<CreateResult> {
    try {
      const existing = await this.getFile(file.fileId);
      if (existing) return { status: "exists", record: existing };
      const refused = await this.#changeUsage(file.owner, file.cipherSize, quotaBytes);
      if (refused !== null) return { status: "over_quota", usedBytes: refused };
      const doc: FileDoc = {
        _id: file.fileId,
        owner: file.owner,
        cipherSize: file.cipherSize,
        chunkBytes: file.chunkBytes,
        chunks: file.chunks,
        committed: 0,
        readers: file.readers,
        announcements: [new Binary(file.announcement)],
        createdAt: Date.now(),
      };
      try {
        // The unique _id makes creation atomic: of parallel creators exactly one inserts.
        await this.#files.insertOne(doc);
      } catch (error) {
        await this.#changeUsage(file.owner, -file.cipherSize).catch(() => {});
        throw error;
      }
      return { status: "created", record: toRecord(doc) };
    } catch (error) {
      if (isDuplicateKey(error)) {
        const record = await this.getFile(file.fileId);
        if (record) return { status: "exists", record };
      }
      throw failure("create a file", error);
    }
  }

  /**
   * Adds `bytes` (negative: gives them back) to the owner's usage unless the
   * result would exceed `quotaBytes`: null when done, else the bytes in use.
   * A compare-and-set on the chain of usage versions (see the module doc).
   */
  async #changeUsage(owner: string, bytes: number, quotaBytes = Infinity): Promise<number | null> {
    for (let attempt = 0; attempt < MAX_USAGE_ATTEMPTS; attempt++) {
      const newest = await this.#usage.find({ owner }).sort({ version: -1 }).limit(1).next();
      // No chain yet (a first upload, or files from before it was kept): start from the files.
      const used = newest?.used ?? await this.usedBytes(owner);
      if (bytes > 0 && used + bytes > quotaBytes) return used;
      const version = (newest?.version ?? 0) + 1;
      try {
        await this.#usage.insertOne({
          _id: `${owner}:${version}`,
          owner,
          version,
          used: Math.max(0, used + bytes),
        });
      } catch (error) {
        if (isDuplicateKey(error)) continue; // another change came first: read again
        throw error;
      }
      // Older versions stay: deleting one would let a change that read it stale take its id
      // again and build on an old count. (One small document per upload and deletion.)
      return null;
    }
    throw new StorageError("storage_busy", `too many parallel uploads for ${owner}`, {
      retryAfterMs: 1000,
    });
  }

  async getFile(fileId: string): Promise<FileRecord | null> {
    try {
      const doc = await this.#files.findOne({ _id: fileId });
      return doc ? toRecord(doc) : null;
    } catch (error) {
      throw failure("read a file record", error);
    }
  }

  async *allFiles(): AsyncGenerator<FileRecord> {
    try {
      for await (const doc of this.#files.find().sort({ _id: 1 })) yield toRecord(doc);
    } catch (error) {
      throw failure("read the file records", error);
    }
  }

  async importFile(record: FileRecord): Promise<void> {
    try {
      await this.#files.insertOne({
        _id: record.fileId,
        owner: record.owner,
        cipherSize: record.cipherSize,
        chunkBytes: record.chunkBytes,
        chunks: record.chunks,
        committed: 0,
        readers: [...record.readers],
        announcements: record.announcements.map((a) => new Binary(a)),
        createdAt: record.createdAt,
      });
      await this.#changeUsage(record.owner, record.cipherSize);
      // Like DiskFileStore's truncation: chunks a crashed deletion left under this id must not
      // pass for the new file's (a rewritten chunk with the same id is ignored, see commit).
      await this.#chunks.deleteMany(chunkRange(record.fileId));
    } catch (error) {
      if (isDuplicateKey(error)) {
        throw new StorageError(
          "storage_failed",
          `Cannot import file ${record.fileId}: a file with this id exists`,
          { cause: error },
        );
      }
      throw failure(`import file ${record.fileId}`, error);
    }
  }

  async share(fileId: string, readers: string[], announcement: Uint8Array): Promise<void> {
    try {
      const result = await this.#files.updateOne({ _id: fileId }, {
        $addToSet: { readers: { $each: readers } },
        $push: { announcements: new Binary(announcement) },
      });
      if (result.matchedCount === 0) throw new StorageError("no_such_file", `no file ${fileId}`);
    } catch (error) {
      throw failure("share a file", error);
    }
  }

  writeChunk(fileId: string, index: number, data: Uint8Array): Promise<void> {
    let pending = this.#pending.get(fileId);
    if (!pending) this.#pending.set(fileId, pending = []);
    pending.push({ _id: chunkId(fileId, index), data: new Binary(data.slice()) });
    return Promise.resolve();
  }

  async commit(fileId: string, committed: number): Promise<void> {
    const pending = this.#pending.get(fileId) ?? [];
    this.#pending.delete(fileId);
    try {
      if (pending.length > 0) {
        await this.#chunks.insertMany(pending, { ordered: false }).catch((error) => {
          // A chunk rewritten after a resume is already there, byte for byte: fine.
          if (!(error instanceof MongoBulkWriteError) || !onlyDuplicates(error)) throw error;
        });
      }
      await this.#files.updateOne(
        { _id: fileId, committed: { $lt: committed } },
        { $set: { committed } },
      );
    } catch (error) {
      throw failure("commit file chunks", error);
    }
  }

  async readChunk(fileId: string, index: number): Promise<Uint8Array> {
    try {
      const doc = await this.#chunks.findOne({ _id: chunkId(fileId, index) });
      if (!doc) throw new StorageError("not_committed", `chunk ${index} of ${fileId} not stored`);
      return new Uint8Array(doc.data.buffer.subarray(0, doc.data.length()));
    } catch (error) {
      throw failure("read a file chunk", error);
    }
  }

  async deleteFile(fileId: string): Promise<boolean> {
    this.#pending.delete(fileId);
    try {
      // The record goes first (see DiskFileStore.deleteFile).
      const deleted = await this.#files.findOneAndDelete({ _id: fileId });
      if (deleted) await this.#changeUsage(deleted.owner, -deleted.cipherSize);
      await this.#chunks.deleteMany(chunkRange(fileId));
      return deleted !== null;
    } catch (error) {
      throw failure("delete a file", error);
    }
  }

  async usedBytes(owner: string): Promise<number> {
    try {
      const docs = await this.#files.find({ owner }, { projection: { cipherSize: 1 } }).toArray();
      return docs.reduce((sum, doc) => sum + doc.cipherSize, 0);
    } catch (error) {
      throw failure("sum file sizes", error);
    }
  }

  async listFiles(phone: string): Promise<FileRecord[]> {
    try {
      const docs = await this.#files.find({ $or: [{ owner: phone }, { readers: phone }] })
        .sort({ createdAt: -1, _id: 1 }).toArray();
      return docs.map(toRecord);
    } catch (error) {
      throw failure("list files", error);
    }
  }

  async close(): Promise<void> {
    this.#pending.clear();
    await this.#client.close();
  }
}

function chunkId(fileId: string, index: number): string {
  return `${fileId}:${index}`;
}

/** Every chunk of the file: ids "FILEID:INDEX" lie between "FILEID:" and "FILEID;". */
function chunkRange(fileId: string) {
  return { _id: { $gte: `${fileId}:`, $lt: `${fileId};` } };
}

function toRecord(doc: FileDoc): FileRecord {
  return {
    fileId: doc._id,
    owner: doc.owner,
    cipherSize: doc.cipherSize,
    chunkBytes: doc.chunkBytes,
    chunks: doc.chunks,
    committed: doc.committed,
    readers: doc.readers,
    announcements: doc.announcements.map((b) => new Uint8Array(b.buffer.subarray(0, b.length()))),
    createdAt: doc.createdAt,
  };
}

function onlyDuplicates(error: MongoBulkWriteError): boolean {
  const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return errors.length > 0 && errors.every((e) => e.code === 11000);
}

function failure(operation: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError("storage_unavailable", `Cannot ${operation}: ${String(error)}`, {
    cause: error,
    hint: "MongoDB is unreachable or failing; retry shortly",
    retryAfterMs: 1000,
  });
}
