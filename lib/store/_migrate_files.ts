/**
 * The file half of a migration (`migrate.ts`): copies every file record and
 * its committed chunks from one file store into another, and counts and
 * hashes what it reads, so that reading the target back the same way can
 * prove the copy.
 *
 * A file is never held in memory: chunks go across one at a time and the
 * target commits every {@linkcode COMMIT_EVERY} of them, as an upload does.
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import { createHash } from "node:crypto";
import { StorageError } from "../errors.ts";
import type { FileDump, FileRecord, FileStore } from "./files.ts";

/** A file store that migration can read and write whole. */
export type DumpableFileStore = FileStore & FileDump;

/** Chunks written between commits on the target (the server's upload uses the same). */
export const COMMIT_EVERY = 16;

/** What was read: the same for the source and a faithful copy. */
export interface FileTotals {
  /** File records, complete uploads or not. */
  files: number;
  /** Bytes of the committed chunks. */
  fileBytes: number;
  /** SHA-256 (hex) over every record and each of its committed chunks, by fileId. */
  digest: string;
}

/** True if the store holds any file record. */
export async function holdsFiles(files: DumpableFileStore): Promise<boolean> {
  for await (const _ of files.allFiles()) return true;
  return false;
}

/**
 * Copies every record of `from` into `to` (which must not hold its ids),
 * then its committed chunks [0, committed); an unfinished upload keeps its
 * count and can be resumed on the target.
 *
 * @returns the totals of what was read from `from`.
 */
export async function copyFiles(
  from: DumpableFileStore,
  to: DumpableFileStore,
  locations: { from: string; to: string },
): Promise<FileTotals> {
  const tally = new FileTally();
  for await (const record of from.allFiles()) {
    tally.record(record);
    try {
      await to.importFile(record);
      for (let index = 0; index < record.committed; index++) {
        const data = await from.readChunk(record.fileId, index);
        tally.chunk(index, data);
        await to.writeChunk(record.fileId, index, data);
        if ((index + 1) % COMMIT_EVERY === 0) await to.commit(record.fileId, index + 1);
      }
      if (record.committed % COMMIT_EVERY !== 0) await to.commit(record.fileId, record.committed);
    } catch (error) {
      throw new StorageError(
        error instanceof StorageError ? error.code : "storage_failed",
        `Cannot copy file ${record.fileId} from ${locations.from} to ${locations.to}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error, hint: "stop the server on either store, empty the target and retry" },
      );
    }
  }
  return tally.totals();
}

/** Reads every record and committed chunk of `files`, as {@linkcode copyFiles} read its source. */
export async function tallyFiles(files: DumpableFileStore): Promise<FileTotals> {
  const tally = new FileTally();
  for await (const record of files.allFiles()) {
    tally.record(record);
    for (let index = 0; index < record.committed; index++) {
      tally.chunk(index, await files.readChunk(record.fileId, index));
    }
  }
  return tally.totals();
}

/** Count, bytes and one digest over records and chunks, in the order seen. */
class FileTally {
  #files = 0;
  #bytes = 0;
  #hash = createHash("sha256");

  record(f: FileRecord): void {
    this.#files++;
    // One JSON line per record, like the message tallies; the readers keep their order.
    this.#line([
      "file",
      f.fileId,
      f.owner,
      f.cipherSize,
      f.chunkBytes,
      f.chunks,
      f.committed,
      f.readers,
      f.announcements.map(toHex),
      f.createdAt,
    ]);
  }

  chunk(index: number, data: Uint8Array): void {
    this.#bytes += data.length;
    // The length goes first, so chunks of other sizes cannot hash the same when joined.
    this.#line(["chunk", index, data.length]);
    this.#hash.update(data);
  }

  totals(): FileTotals {
    return { files: this.#files, fileBytes: this.#bytes, digest: this.#hash.copy().digest("hex") };
  }

  #line(fields: unknown[]): void {
    this.#hash.update(JSON.stringify(fields) + "\n");
  }
}
