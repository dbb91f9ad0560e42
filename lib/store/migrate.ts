/**
 * Copies a whole server's data — accounts, envelopes, delivery cursors and
 * uploaded files — from the embedded store (a data directory) into MongoDB,
 * or back, and proves the copy: counts and SHA-256 digests of the source,
 * taken while reading it, must equal those of the target read back
 * afterwards.
 *
 * The copy keeps every seq and `storedAt` as they were, which the `Store`
 * interface cannot do (it assigns both on append): clients keep their
 * delivery cursors and history pages, and messages keep their times. So
 * each backend has a {@linkcode StoreDump} that reads and writes its rows or
 * documents directly (`_sqlite_dump.ts`, `_mongo_dump.ts`). Files likewise
 * keep their records as they are, through the file stores' `FileDump`
 * methods (`_migrate_files.ts`).
 *
 * @module
 */
import { toHex } from "../bytes.ts";
import { createHash, type Hash } from "node:crypto";
import { StorageError } from "../errors.ts";
import { copyFiles, type FileTotals, holdsFiles, tallyFiles } from "./_migrate_files.ts";
import type { FileDump, FileStore } from "./files.ts";
import type { AccountRecord, StoredEnvelope } from "./types.ts";

/** A recipient's delivery cursor. */
export interface CursorRecord {
  recipient: string;
  /** Highest seq the recipient acknowledged. */
  seq: number;
}

/** Whole-store access for migration: ordered reads, and writes that keep seqs. */
export interface StoreDump {
  /** Where the data lives, for messages (any password hidden). */
  readonly location: string;
  /** True if the store holds no account, envelope or cursor. */
  isEmpty(): Promise<boolean>;
  /** Every account, by phone number. */
  accounts(): AsyncIterable<AccountRecord>;
  /** Every envelope, by seq. */
  envelopes(): AsyncIterable<StoredEnvelope>;
  /** Every recipient's cursor, by recipient. */
  cursors(): AsyncIterable<CursorRecord>;
  /** Writes accounts as they are. */
  putAccounts(accounts: AccountRecord[]): Promise<void>;
  /** Writes envelopes with their seq and storedAt, durably. */
  putEnvelopes(envelopes: StoredEnvelope[]): Promise<void>;
  /** Writes cursors as they are. */
  putCursors(cursors: CursorRecord[]): Promise<void>;
  /** Releases the database. */
  close(): Promise<void>;
}

/** Everything a server keeps at one location, for migration: messages and files. */
export interface ServerDump {
  /** Where the data lives, for error messages (any password hidden). */
  readonly location: string;
  /** Accounts, envelopes and cursors. */
  readonly messages: StoreDump;
  /** Uploaded files. */
  readonly files: FileStore & FileDump;
  /** Releases both stores. */
  close(): Promise<void>;
}

/** What {@linkcode migrateStore} copied; the digests are equal in source and target. */
export interface MigrationReport {
  accounts: number;
  envelopes: number;
  cursors: number;
  /** Uploads, complete or not. */
  files: number;
  /** Bytes of the files' committed chunks. */
  fileBytes: number;
  /**
   * SHA-256 (hex) over every record of each kind, in order; for files, over
   * each record and its committed chunks, by fileId.
   */
  digests: { accounts: string; envelopes: string; cursors: string; files: string };
}

/** Records per write. */
const BATCH = 500;

/**
 * Copies everything in `from` into `to`, which must be empty, then reads
 * `to` back and checks counts and digests against what was read from `from`.
 *
 * @throws {StorageError} if `to` is not empty, a read or write fails, or the
 * verification finds a difference (the target is then left as it is, for
 * inspection; delete it before trying again).
 */
export async function migrateStore(from: ServerDump, to: ServerDump): Promise<MigrationReport> {
  try {
    return await copyAndVerify(from, to);
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError(
      "storage_failed",
      `Cannot migrate ${from.location} to ${to.location}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}

async function copyAndVerify(from: ServerDump, to: ServerDump): Promise<MigrationReport> {
  if (!(await to.messages.isEmpty()) || await holdsFiles(to.files)) {
    throw new StorageError("storage_failed", `Cannot migrate into ${to.location}: it holds data`, {
      hint: "migrate into an empty database or data directory",
    });
  }
  const [source, target] = [from.messages, to.messages];
  const read = new Tally();
  await copy(source.accounts(), (a) => read.account(a), (batch) => target.putAccounts(batch));
  await copy(source.envelopes(), (e) => read.envelope(e), (batch) => target.putEnvelopes(batch));
  await copy(source.cursors(), (c) => read.cursor(c), (batch) => target.putCursors(batch));
  const files = await copyFiles(from.files, to.files, { from: from.location, to: to.location });
  const expected = read.report(files);

  const readBack = new Tally();
  for await (const a of target.accounts()) readBack.account(a);
  for await (const e of target.envelopes()) readBack.envelope(e);
  for await (const c of target.cursors()) readBack.cursor(c);
  const actual = readBack.report(await tallyFiles(to.files));
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new StorageError(
      "storage_failed",
      `The copy in ${to.location} differs from ${from.location}: expected ${
        JSON.stringify(expected)
      }, found ${JSON.stringify(actual)}`,
      { hint: "was something else writing to either store? stop the server and retry" },
    );
  }
  return expected;
}

async function copy<T>(
  records: AsyncIterable<T>,
  count: (record: T) => void,
  write: (batch: T[]) => Promise<void>,
): Promise<void> {
  let batch: T[] = [];
  for await (const record of records) {
    count(record);
    batch.push(record);
    if (batch.length >= BATCH) {
      await write(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await write(batch);
}

/** Counts and digests of the records seen, in the order seen. */
class Tally {
  #counts = { accounts: 0, envelopes: 0, cursors: 0 };
  #hashes: Record<"accounts" | "envelopes" | "cursors", Hash> = {
    accounts: createHash("sha256"),
    envelopes: createHash("sha256"),
    cursors: createHash("sha256"),
  };

  account(a: AccountRecord): void {
    this.#add("accounts", [
      a.phone,
      toHex(a.kdfSalt),
      a.kdfParams,
      toHex(a.verifierSalt),
      toHex(a.verifier),
      toHex(a.encryptionKey),
      toHex(a.signingKey),
      toHex(a.keyBackup),
      a.createdAt,
    ]);
  }

  envelope(e: StoredEnvelope): void {
    this.#add("envelopes", [
      e.seq,
      e.sender,
      e.clientId,
      e.recipients,
      e.conversation,
      toHex(e.body),
      e.storedAt,
    ]);
  }

  cursor(c: CursorRecord): void {
    this.#add("cursors", [c.recipient, c.seq]);
  }

  /** The report of the messages seen, with the files' totals. */
  report(files: FileTotals): MigrationReport {
    return {
      ...this.#counts,
      files: files.files,
      fileBytes: files.fileBytes,
      digests: {
        accounts: this.#hashes.accounts.copy().digest("hex"),
        envelopes: this.#hashes.envelopes.copy().digest("hex"),
        cursors: this.#hashes.cursors.copy().digest("hex"),
        files: files.digest,
      },
    };
  }

  #add(kind: "accounts" | "envelopes" | "cursors", fields: unknown[]): void {
    this.#counts[kind]++;
    // One JSON line per record: unambiguous, since JSON escapes newlines.
    this.#hashes[kind].update(JSON.stringify(fields) + "\n");
  }
}
