/**
 * {@linkcode StoreDump} on the embedded SQLite file, for migration.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { StorageError } from "../errors.ts";
import { messageOf } from "./_errors.ts";
import type { CursorRecord, StoreDump } from "./migrate.ts";
import { SqliteStore } from "./sqlite.ts";
import type { AccountRecord, StoredEnvelope } from "./types.ts";
import { accountValues, type Row, toAccount, toEnvelope } from "./_sqlite_rows.ts";

/**
 * Opens the SQLite store at `path` for migration, creating it (with the
 * current schema) if missing.
 *
 * @throws {StorageError} if the file cannot be opened or has a newer schema.
 */
export async function openSqliteDump(path: string): Promise<StoreDump> {
  // Opening through the store creates or migrates the schema and reports a
  // damaged or newer file the usual way.
  await SqliteStore.open(path).close();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA busy_timeout = 5000");

  const insertAccount = db.prepare("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const insertEnvelope = db.prepare(
    "INSERT INTO envelopes (seq, sender, client_id, conversation, recipients, body, stored_at) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const insertRecipient = db.prepare(
    "INSERT OR IGNORE INTO envelope_recipients (recipient, seq) VALUES (?, ?)",
  );
  const insertCursor = db.prepare("INSERT INTO cursors (recipient, delivered_seq) VALUES (?, ?)");

  const write = (what: string, body: () => void): Promise<void> => {
    try {
      db.exec("BEGIN IMMEDIATE");
      body();
      db.exec("COMMIT");
      return Promise.resolve();
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      return Promise.reject(
        new StorageError("storage_failed", `Cannot write ${what} to ${path}: ${messageOf(error)}`, {
          cause: error,
        }),
      );
    }
  };

  return {
    location: path,
    isEmpty() {
      const row = db.prepare(
        "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM envelopes) + " +
          "(SELECT count(*) FROM cursors) AS n",
      ).get() as Row;
      return Promise.resolve(row.n === 0);
    },
    async *accounts(): AsyncGenerator<AccountRecord> {
      for (const row of db.prepare("SELECT * FROM accounts ORDER BY phone").iterate()) {
        yield toAccount(row as Row);
      }
    },
    async *envelopes(): AsyncGenerator<StoredEnvelope> {
      for (const row of db.prepare("SELECT * FROM envelopes ORDER BY seq").iterate()) {
        yield toEnvelope(row as Row);
      }
    },
    async *cursors(): AsyncGenerator<CursorRecord> {
      const rows = db.prepare("SELECT recipient, delivered_seq FROM cursors ORDER BY recipient");
      for (const row of rows.iterate()) {
        const r = row as Row;
        yield { recipient: r.recipient as string, seq: r.delivered_seq as number };
      }
    },
    putAccounts(accounts) {
      return write(`${accounts.length} accounts`, () => {
        for (const a of accounts) insertAccount.run(...accountValues(a));
      });
    },
    putEnvelopes(envelopes) {
      return write(`${envelopes.length} envelopes`, () => {
        for (const e of envelopes) {
          // An explicit seq also advances AUTOINCREMENT's counter, so new
          // appends continue after the copied ones.
          insertEnvelope.run(
            e.seq,
            e.sender,
            e.clientId,
            e.conversation,
            JSON.stringify(e.recipients),
            e.body,
            e.storedAt,
          );
          for (const recipient of e.recipients) insertRecipient.run(recipient, e.seq);
        }
      });
    },
    putCursors(cursors) {
      return write(`${cursors.length} cursors`, () => {
        for (const c of cursors) insertCursor.run(c.recipient, c.seq);
      });
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}
