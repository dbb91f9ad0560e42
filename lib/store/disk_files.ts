/**
 * The embedded file store: each file's ciphertext in one file under
 * `DATA/files/`, written at its chunk offset, and the metadata in a small
 * SQLite database beside them. A commit fsyncs the data file before the
 * committed count is recorded, so a count never covers bytes a crash could
 * lose. Sequential file I/O beats SQLite blobs for large chunks (see
 * docs/files.md).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { StorageError } from "../errors.ts";
import {
  chunkLength,
  chunkOffset,
  type CreateResult,
  type FileDump,
  type FileRecord,
  type FileStore,
  type NewFile,
} from "./files.ts";

/**
 * Subdirectory of the server's data directory that holds the embedded file
 * store (where `ssp-server` opens it, and so where migration looks).
 */
export const EMBEDDED_FILES_DIR = "files";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  file_id TEXT PRIMARY KEY, owner TEXT NOT NULL, cipher_size INTEGER NOT NULL,
  chunk_bytes INTEGER NOT NULL, chunks INTEGER NOT NULL, committed INTEGER NOT NULL,
  readers TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_owner ON files (owner);
CREATE TABLE IF NOT EXISTS announcements (
  file_id TEXT NOT NULL, n INTEGER NOT NULL, envelope BLOB NOT NULL, PRIMARY KEY (file_id, n)
);
`;

/** An open data file and where its write position is. */
interface OpenFile {
  handle: Deno.FsFile;
  position: number;
}

/**
 * Files on disk, metadata in SQLite.
 *
 * Chunk reads and writes use the synchronous file calls: they hit the page
 * cache and take well under a millisecond for a chunk, while an async call
 * costs a thread-pool round trip per chunk, which measurably stalled the
 * pipeline. The slow part, fsync, stays asynchronous (commit).
 */
export class DiskFileStore implements FileStore, FileDump {
  /** None: one process owns the directory, and its server's own upload claims suffice. */
  readonly leases = null;
  readonly #dir: string;
  readonly #db: DatabaseSync;
  readonly #open = new Map<string, OpenFile>();
  /** Chunk layout of files in use, so chunk I/O needs no query. */
  readonly #layouts = new Map<
    string,
    Pick<FileRecord, "chunkBytes" | "chunks" | "cipherSize" | "committed">
  >();

  private constructor(dir: string, db: DatabaseSync) {
    this.#dir = dir;
    this.#db = db;
  }

  /** Opens (creating) the file store in `dir`. */
  static async open(dir: string): Promise<DiskFileStore> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return wrap("open the file store", () => {
      const db = new DatabaseSync(join(dir, "files.db"));
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
      // Who shared what with whom outlives a deleted file in free pages unless they are zeroed.
      db.exec("PRAGMA secure_delete = ON");
      db.exec(SCHEMA);
      return new DiskFileStore(dir, db);
    });
  }

  createFile(file: NewFile, quotaBytes = Infinity): Promise<CreateResult> {
    return wrapAsync("create a file", () => {
      // One write transaction, with no await inside: the id check, the quota check and the
      // insert see the same rows, and no other begin (nor another process) slips in between.
      const result = this.#transaction((): CreateResult => {
        const existing = this.#get(file.fileId);
        if (existing) return { status: "exists", record: existing };
        const used = this.#used(file.owner);
        if (used + file.cipherSize > quotaBytes) return { status: "over_quota", usedBytes: used };
        const { announcement, ...fields } = file;
        this.#insertRows({ ...fields, announcements: [announcement], createdAt: Date.now() });
        return { status: "created", record: this.#get(file.fileId)! };
      });
      // Truncated: a data file left by a deletion that crashed must not lend this one its bytes.
      if (result.status === "created") this.#createDataFile(file.fileId);
      return Promise.resolve(result);
    });
  }

  async *allFiles(): AsyncGenerator<FileRecord> {
    const ids = this.#db.prepare("SELECT file_id FROM files ORDER BY file_id");
    for (const row of ids.iterate()) {
      const record = this.#get(String(row.file_id));
      if (record) yield record;
    }
  }

  importFile(record: FileRecord): Promise<void> {
    return wrapAsync(`import file ${record.fileId}`, () => {
      this.#transaction(() => this.#insertRows(record));
      this.#createDataFile(record.fileId);
      return Promise.resolve();
    });
  }

  getFile(fileId: string): Promise<FileRecord | null> {
    return wrapAsync("read a file record", () => Promise.resolve(this.#get(fileId)));
  }

  share(fileId: string, readers: string[], announcement: Uint8Array): Promise<void> {
    return wrapAsync("share a file", () => {
      const file = this.#get(fileId);
      if (!file) throw new StorageError("no_such_file", `no file ${fileId}`);
      const all = [...new Set([...file.readers, ...readers])];
      this.#transaction(() => {
        this.#db.prepare("UPDATE files SET readers = ? WHERE file_id = ?")
          .run(JSON.stringify(all), fileId);
        this.#db.prepare(
          "INSERT INTO announcements (file_id, n, envelope) VALUES (?, ?, ?)",
        ).run(fileId, file.announcements.length, announcement);
      });
      return Promise.resolve();
    });
  }

  writeChunk(fileId: string, index: number, data: Uint8Array): Promise<void> {
    return wrapAsync("write a file chunk", () => {
      const file = this.#handle(fileId);
      const offset = chunkOffset(this.#layout(fileId), index);
      if (file.position !== offset) file.handle.seekSync(offset, Deno.SeekMode.Start);
      let written = 0;
      while (written < data.length) written += file.handle.writeSync(data.subarray(written));
      file.position = offset + data.length;
      return Promise.resolve();
    });
  }

  commit(fileId: string, committed: number): Promise<void> {
    return wrapAsync("commit file chunks", async () => {
      await this.#handle(fileId).handle.syncData();
      const layout = this.#layout(fileId);
      // The data is durable now; the count only says how much of it. Losing a count on power
      // failure just makes the sender resend from an older one, so counts short of the whole
      // file skip SQLite's fsync (it blocked the server's thread); the final count waits for
      // it, and its fsync of the log makes every earlier count durable too.
      const final = committed >= layout.chunks;
      if (!final) this.#db.exec("PRAGMA synchronous = NORMAL");
      try {
        this.#db.prepare("UPDATE files SET committed = max(committed, ?) WHERE file_id = ?")
          .run(committed, fileId);
      } finally {
        if (!final) this.#db.exec("PRAGMA synchronous = FULL");
      }
      layout.committed = Math.max(layout.committed, committed);
      if (final) this.#release(fileId);
    });
  }

  readChunk(fileId: string, index: number, into?: Uint8Array): Promise<Uint8Array> {
    return wrapAsync("read a file chunk", () => {
      let layout = this.#layout(fileId);
      if (index >= layout.committed) layout = this.#layout(fileId, true); // committed since cached
      if (index >= layout.committed) {
        throw new StorageError("not_committed", `chunk ${index} not stored`);
      }
      const length = chunkLength(layout, index);
      const out = into && into.length >= length ? into.subarray(0, length) : new Uint8Array(length);
      using handle = Deno.openSync(this.#path(fileId), { read: true });
      handle.seekSync(chunkOffset(layout, index), Deno.SeekMode.Start);
      let read = 0;
      while (read < length) {
        const n = handle.readSync(out.subarray(read));
        if (n === null) {
          throw new StorageError("storage_failed", `file ${fileId} is shorter than recorded`);
        }
        read += n;
      }
      return Promise.resolve(out);
    });
  }

  deleteFile(fileId: string): Promise<boolean> {
    return wrapAsync("delete a file", async () => {
      this.#release(fileId);
      this.#layouts.delete(fileId);
      // The record goes first: a crash in between leaves an unlisted data file, never a
      // listed file without its data.
      const deleted = this.#transaction(() => {
        const { changes } = this.#db.prepare("DELETE FROM files WHERE file_id = ?").run(fileId);
        this.#db.prepare("DELETE FROM announcements WHERE file_id = ?").run(fileId);
        return changes;
      });
      // The rows are zeroed in the database (secure_delete) but stay in the write-ahead log
      // until a checkpoint: do it now (deletions are rare).
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      await Deno.remove(this.#path(fileId)).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
      return Number(deleted) > 0;
    });
  }

  usedBytes(owner: string): Promise<number> {
    return wrapAsync("sum file sizes", () => Promise.resolve(this.#used(owner)));
  }

  listFiles(phone: string): Promise<FileRecord[]> {
    return wrapAsync("list files", () => {
      const rows = this.#db.prepare(
        `SELECT file_id FROM files WHERE owner = ? OR EXISTS
           (SELECT 1 FROM json_each(files.readers) WHERE json_each.value = ?)
         ORDER BY created_at DESC, file_id`,
      ).all(phone, phone);
      return Promise.resolve(rows.map((row) => this.#get(String(row.file_id))!));
    });
  }

  close(): Promise<void> {
    for (const id of [...this.#open.keys()]) this.#release(id);
    this.#layouts.clear();
    this.#db.close();
    return Promise.resolve();
  }

  /** Runs `body` in one write transaction (BEGIN IMMEDIATE: the write lock from the start). */
  #transaction<T>(body: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Inserts the record, with committed = 0, and its announcements (inside a transaction). */
  #insertRows(record: Omit<FileRecord, "committed">): void {
    this.#db.prepare(
      `INSERT INTO files (file_id, owner, cipher_size, chunk_bytes, chunks, committed, readers, created_at)
       VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
    ).run(
      record.fileId,
      record.owner,
      record.cipherSize,
      record.chunkBytes,
      record.chunks,
      JSON.stringify(record.readers),
      record.createdAt,
    );
    const announce = this.#db.prepare(
      "INSERT INTO announcements (file_id, n, envelope) VALUES (?, ?, ?)",
    );
    for (const [n, envelope] of record.announcements.entries()) {
      announce.run(record.fileId, n, envelope);
    }
  }

  /** Ciphertext bytes of every file `owner` uploaded, complete or not. */
  #used(owner: string): number {
    const row = this.#db.prepare(
      "SELECT coalesce(sum(cipher_size), 0) AS used FROM files WHERE owner = ?",
    ).get(owner);
    return Number(row?.used ?? 0);
  }

  /** Creates the file's empty data file, truncating one a crashed deletion left behind. */
  #createDataFile(fileId: string): void {
    Deno.openSync(this.#path(fileId), { create: true, write: true, truncate: true, mode: 0o600 })
      .close();
  }

  #path(fileId: string): string {
    return join(this.#dir, `${fileId}.bin`);
  }

  #handle(fileId: string): OpenFile {
    let file = this.#open.get(fileId);
    if (!file) {
      file = {
        handle: Deno.openSync(this.#path(fileId), { write: true, read: true }),
        position: 0,
      };
      this.#open.set(fileId, file);
    }
    return file;
  }

  #release(fileId: string): void {
    this.#open.get(fileId)?.handle.close();
    this.#open.delete(fileId);
  }

  /** The file's layout, from the cache unless `fresh`. */
  #layout(fileId: string, fresh = false) {
    let layout = fresh ? undefined : this.#layouts.get(fileId);
    if (!layout) {
      const row = this.#db.prepare(
        "SELECT chunk_bytes, chunks, cipher_size, committed FROM files WHERE file_id = ?",
      ).get(fileId);
      if (!row) throw new StorageError("no_such_file", `no file ${fileId}`);
      layout = {
        chunkBytes: Number(row.chunk_bytes),
        chunks: Number(row.chunks),
        cipherSize: Number(row.cipher_size),
        committed: Number(row.committed),
      };
      this.#layouts.set(fileId, layout);
    }
    return layout;
  }

  #get(fileId: string): FileRecord | null {
    const row = this.#db.prepare("SELECT * FROM files WHERE file_id = ?").get(fileId);
    if (!row) return null;
    const announcements = this.#db.prepare(
      "SELECT envelope FROM announcements WHERE file_id = ? ORDER BY n",
    ).all(fileId).map((a) => new Uint8Array(a.envelope as Uint8Array));
    return {
      fileId: String(row.file_id),
      owner: String(row.owner),
      cipherSize: Number(row.cipher_size),
      chunkBytes: Number(row.chunk_bytes),
      chunks: Number(row.chunks),
      committed: Number(row.committed),
      readers: JSON.parse(String(row.readers)),
      announcements,
      createdAt: Number(row.created_at),
    };
  }
}

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError("storage_failed", `cannot ${what}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function wrapAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError("storage_failed", `cannot ${what}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
