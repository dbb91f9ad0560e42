/**
 * The SQLite schema and its migrations, applied when a store is opened.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { StorageError } from "../errors.ts";

/**
 * Schema migrations; entry i takes the schema from version i to i + 1. Never
 * edit a released entry: append a new one.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE accounts (
     phone TEXT PRIMARY KEY,
     kdf_salt BLOB NOT NULL,
     kdf_params TEXT NOT NULL,
     verifier_salt BLOB NOT NULL,
     verifier BLOB NOT NULL,
     encryption_key BLOB NOT NULL,
     signing_key BLOB NOT NULL,
     key_backup BLOB NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE envelopes (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     sender TEXT NOT NULL,
     client_id TEXT NOT NULL,
     conversation TEXT NOT NULL,
     recipients TEXT NOT NULL, -- JSON array, as given (order kept)
     body BLOB NOT NULL,
     stored_at INTEGER NOT NULL,
     UNIQUE (sender, client_id)
   );
   CREATE INDEX envelopes_by_conversation ON envelopes (conversation, seq);
   -- The mailbox index: one row per (recipient, envelope).
   CREATE TABLE envelope_recipients (
     recipient TEXT NOT NULL,
     seq INTEGER NOT NULL REFERENCES envelopes (seq),
     PRIMARY KEY (recipient, seq)
   ) WITHOUT ROWID;
   CREATE TABLE cursors (
     recipient TEXT PRIMARY KEY,
     delivered_seq INTEGER NOT NULL
   ) WITHOUT ROWID;`,
];

/** Schema version this code writes and understands. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * Brings the schema up to {@linkcode SCHEMA_VERSION}; a no-op on an up-to-date file.
 *
 * @throws {StorageError} if the file has a newer schema than this code knows.
 */
export function migrate(db: DatabaseSync): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const readVersion = db.prepare("SELECT max(version) AS version FROM schema_version");
  const record = db.prepare("INSERT INTO schema_version (version) VALUES (?)");
  for (;;) {
    // The version is read inside the write transaction, so two processes
    // opening the same new file cannot both apply a step. Each step commits
    // with its version number: a crash mid-migration leaves the previous
    // version intact and the step is retried on the next open.
    db.exec("BEGIN IMMEDIATE");
    try {
      const current = (readVersion.get() as { version: number | null }).version ?? 0;
      if (current > SCHEMA_VERSION) {
        throw new StorageError(
          "storage_failed",
          `The database has schema version ${current}, newer than this ssp understands ` +
            `(${SCHEMA_VERSION})`,
          { hint: "upgrade ssp, or point it at another data directory" },
        );
      }
      if (current === SCHEMA_VERSION) {
        db.exec("COMMIT");
        return;
      }
      db.exec(MIGRATIONS[current]!);
      record.run(current + 1);
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
}
