/**
 * Chunks on disk or in SQLite? Writes the same chunks (256 KiB, as ssp's
 * default) into one data file, fsync every 16 chunks as the server commits,
 * and into a node:sqlite table of blobs (WAL, synchronous=FULL, one
 * transaction per 16 chunks), then reads each back in order.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";

/** Chunks per commit, as COMMIT_EVERY_CHUNKS in lib/server/files.ts. */
const CHUNKS_PER_COMMIT = 16;

/** Write and read-back throughput of one way of storing chunks, MiB/s. */
export interface BlobResult {
  store: string;
  writeMiBs: number;
  readMiBs: number;
}

/** Stores `totalBytes` as `chunkBytes` chunks both ways in `dir`. */
export async function measureBlobStores(
  dir: string,
  totalBytes: number,
  chunkBytes: number,
): Promise<BlobResult[]> {
  const chunks = Math.ceil(totalBytes / chunkBytes);
  const chunk = new Uint8Array(chunkBytes);
  // Random bytes, like ciphertext: nothing compresses or dedups.
  for (let i = 0; i < chunkBytes; i += 65536) {
    crypto.getRandomValues(chunk.subarray(i, i + 65536));
  }
  const mib = (chunks * chunkBytes) / 2 ** 20;
  return [
    { store: "one file, fsync per commit", ...await diskFile(dir, chunks, chunk, mib) },
    { store: "SQLite blobs (WAL, FULL)", ...sqliteBlobs(dir, chunks, chunk, mib) },
  ];
}

async function diskFile(
  dir: string,
  chunks: number,
  chunk: Uint8Array,
  mib: number,
): Promise<{ writeMiBs: number; readMiBs: number }> {
  const path = join(dir, "chunks.bin");
  const file = await Deno.open(path, { create: true, write: true, read: true });
  try {
    const start = performance.now();
    for (let i = 0; i < chunks; i++) {
      chunk[0] = i & 0xff;
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
      if ((i + 1) % CHUNKS_PER_COMMIT === 0 || i === chunks - 1) await file.syncData();
    }
    const writeMiBs = mib / ((performance.now() - start) / 1000);
    await file.seek(0, Deno.SeekMode.Start);
    const into = new Uint8Array(chunk.length);
    const readStart = performance.now();
    for (let i = 0; i < chunks; i++) {
      let read = 0;
      while (read < into.length) {
        const n = await file.read(into.subarray(read));
        if (n === null) throw new Error("short read");
        read += n;
      }
    }
    return { writeMiBs, readMiBs: mib / ((performance.now() - readStart) / 1000) };
  } finally {
    file.close();
    await Deno.remove(path);
  }
}

function sqliteBlobs(
  dir: string,
  chunks: number,
  chunk: Uint8Array,
  mib: number,
): { writeMiBs: number; readMiBs: number } {
  const path = join(dir, "chunks.db");
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    db.exec("CREATE TABLE chunks (n INTEGER PRIMARY KEY, data BLOB NOT NULL)");
    const insert = db.prepare("INSERT INTO chunks (n, data) VALUES (?, ?)");
    const start = performance.now();
    db.exec("BEGIN");
    for (let i = 0; i < chunks; i++) {
      chunk[0] = i & 0xff;
      insert.run(i, chunk);
      if ((i + 1) % CHUNKS_PER_COMMIT === 0 || i === chunks - 1) {
        db.exec("COMMIT");
        if (i !== chunks - 1) db.exec("BEGIN");
      }
    }
    const writeMiBs = mib / ((performance.now() - start) / 1000);
    const select = db.prepare("SELECT data FROM chunks WHERE n = ?");
    const readStart = performance.now();
    for (let i = 0; i < chunks; i++) {
      if (!(select.get(i)?.data instanceof Uint8Array)) throw new Error(`chunk ${i} missing`);
    }
    return { writeMiBs, readMiBs: mib / ((performance.now() - readStart) / 1000) };
  } finally {
    db.close();
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(path + suffix);
      } catch { /* not created */ }
    }
  }
}
