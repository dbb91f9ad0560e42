/**
 * The embedded store: one SQLite file via Deno's built-in `node:sqlite`.
 *
 * Envelope appends go through a {@linkcode GroupCommitter}, so concurrent
 * senders share one `BEGIN IMMEDIATE … COMMIT` (and one fsync) per batch.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StorageError } from "../errors.ts";
import { closedError, limitError, messageOf } from "./_errors.ts";
import { GroupCommitter } from "./batcher.ts";
import { migrate } from "./_schema.ts";
import { accountValues, type Row, toAccount, toEnvelope } from "./_sqlite_rows.ts";
import type {
  AccountRecord,
  AppendResult,
  CredentialUpdate,
  HistoryQuery,
  NewEnvelope,
  PublicKeys,
  Store,
  StoredEnvelope,
} from "./types.ts";

const ENVELOPE_COLUMNS = "e.seq, e.sender, e.client_id, e.conversation, e.recipients, e.body, " +
  "e.stored_at";
/** Rows `member` sent or received. */
const MEMBER_FILTER = "(e.sender = :member OR EXISTS (SELECT 1 FROM envelope_recipients r " +
  "WHERE r.recipient = :member AND r.seq = e.seq))";

const SQL = {
  createAccount: "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) " +
    "ON CONFLICT (phone) DO NOTHING",
  getAccount: "SELECT * FROM accounts WHERE phone = ?",
  updateCredentials: "UPDATE accounts SET kdf_salt = ?, kdf_params = ?, verifier_salt = ?, " +
    "verifier = ?, key_backup = ? WHERE phone = ?",
  publicKeys: "SELECT phone, encryption_key, signing_key FROM accounts WHERE phone = ?",
  insertEnvelope: "INSERT INTO envelopes (sender, client_id, conversation, recipients, body, " +
    "stored_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sender, client_id) DO NOTHING RETURNING seq",
  existingSeq: "SELECT seq, stored_at FROM envelopes WHERE sender = ? AND client_id = ?",
  insertRecipient: "INSERT OR IGNORE INTO envelope_recipients (recipient, seq) VALUES (?, ?)",
  mailbox: `SELECT ${ENVELOPE_COLUMNS} FROM envelope_recipients m JOIN envelopes e ` +
    "ON e.seq = m.seq WHERE m.recipient = ? AND m.seq > ? ORDER BY m.seq LIMIT ?",
  historyBefore: `SELECT ${ENVELOPE_COLUMNS} FROM envelopes e WHERE e.conversation = :conv ` +
    `AND e.seq < :before AND e.seq > :after AND ${MEMBER_FILTER} ORDER BY e.seq DESC LIMIT :limit`,
  historyAfter: `SELECT ${ENVELOPE_COLUMNS} FROM envelopes e WHERE e.conversation = :conv ` +
    `AND e.seq > :after AND ${MEMBER_FILTER} ORDER BY e.seq LIMIT :limit`,
  getCursor: "SELECT delivered_seq FROM cursors WHERE recipient = ?",
  // The (sender, client_id) index finds the rows; length() of a blob reads
  // its header, not its content.
  storedBytes: "SELECT coalesce(sum(length(body)), 0) AS bytes FROM envelopes WHERE sender = ?",
  // max() keeps the cursor monotonic even if acks arrive out of order.
  setCursor: "INSERT INTO cursors (recipient, delivered_seq) VALUES (?, ?) ON CONFLICT " +
    "(recipient) DO UPDATE SET delivered_seq = max(delivered_seq, excluded.delivered_seq)",
} as const;

type Statements = Record<keyof typeof SQL, StatementSync>;

/** The embedded {@linkcode Store} on one SQLite file. */
export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #sql: Statements;
  readonly #committer: GroupCommitter<NewEnvelope, AppendResult>;
  #closed = false;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#sql = Object.fromEntries(
      Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)]),
    ) as Statements;
    this.#committer = new GroupCommitter((items) => this.#appendBatch(items));
  }

  /**
   * Opens (creating if needed) the database at `path` and migrates it.
   *
   * @throws {StorageError} if the file cannot be opened, is not an ssp
   * database, or has a newer schema.
   */
  static open(path: string): SqliteStore {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      // WAL lets readers run during a commit. synchronous=FULL makes every
      // commit fsync the WAL before COMMIT returns: with NORMAL, WAL mode only
      // syncs at checkpoints, so an envelope we already acknowledged could be
      // lost on power failure. The fsync cost is shared by group commit.
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL");
      // Another process (a backup, the sqlite3 shell) may hold the lock briefly.
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec("PRAGMA foreign_keys = ON");
      // Deleted or rewritten rows (metadata: who, to whom, when) are zeroed, not left in free pages.
      db.exec("PRAGMA secure_delete = ON");
      migrate(db);
      return new SqliteStore(db);
    } catch (error) {
      try {
        db?.close();
      } catch { /* already failing; keep the first error */ }
      if (error instanceof StorageError) throw error;
      throw new StorageError(
        "storage_failed",
        `Cannot open the database ${path}: ${messageOf(error)}`,
        {
          cause: error,
          hint: "if the file is damaged, move it aside and restore ssp.db from a backup",
        },
      );
    }
  }

  /** Number of append batches committed (each is one transaction and one fsync). */
  get flushes(): number {
    return this.#committer.flushes;
  }

  /** Number of envelopes passed to those batches, duplicates included. */
  get flushedEnvelopes(): number {
    return this.#committer.flushedItems;
  }

  createAccount(account: AccountRecord): Promise<boolean> {
    return this.#run("create an account", () => {
      const { changes } = this.#sql.createAccount.run(...accountValues(account));
      return changes === 1;
    });
  }

  getAccount(phone: string): Promise<AccountRecord | null> {
    return this.#run("read an account", () => {
      const row = this.#sql.getAccount.get(phone) as Row | undefined;
      return row === undefined ? null : toAccount(row);
    });
  }

  updateCredentials(phone: string, update: CredentialUpdate): Promise<boolean> {
    return this.#run("update credentials", () => {
      const u = update;
      const { changes } = this.#sql.updateCredentials.run(
        u.kdfSalt,
        u.kdfParams,
        u.verifierSalt,
        u.verifier,
        u.keyBackup,
        phone,
      );
      // The old verifier and key backup are zeroed in the database (secure_delete) but stay in
      // the write-ahead log until a checkpoint: do it now (password changes are rare).
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      return changes === 1;
    });
  }

  getPublicKeys(phones: string[]): Promise<PublicKeys[]> {
    return this.#run("read public keys", () => {
      const found: PublicKeys[] = [];
      for (const phone of new Set(phones)) {
        const row = this.#sql.publicKeys.get(phone) as Row | undefined;
        if (row === undefined) continue;
        found.push({
          phone: row.phone as string,
          encryptionKey: row.encryption_key as Uint8Array,
          signingKey: row.signing_key as Uint8Array,
        });
      }
      return found;
    });
  }

  appendEnvelopes(envelopes: NewEnvelope[]): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#committer.submit(envelopes);
  }

  mailbox(recipient: string, afterSeq: number, limit: number): Promise<StoredEnvelope[]> {
    const invalid = limitError(limit);
    if (invalid) return Promise.reject(invalid);
    return this.#run("read a mailbox", () => {
      return this.#sql.mailbox.all(recipient, afterSeq, limit).map(toEnvelope);
    });
  }

  history(member: string, conversation: string, query: HistoryQuery): Promise<StoredEnvelope[]> {
    const invalid = limitError(query.limit);
    if (invalid) return Promise.reject(invalid);
    return this.#run("read history", () => {
      const params = { conv: conversation, member, limit: query.limit, after: query.after ?? 0 };
      if (query.before === undefined) {
        if (query.after === undefined) {
          // Neither bound: the newest page, like `before` past the end.
          return this.#sql.historyBefore.all({ ...params, before: Number.MAX_SAFE_INTEGER })
            .map(toEnvelope).reverse();
        }
        return this.#sql.historyAfter.all(params).map(toEnvelope);
      }
      // Fetched newest first so LIMIT keeps the newest rows; returned oldest first.
      return this.#sql.historyBefore.all({ ...params, before: query.before }).map(toEnvelope)
        .reverse();
    });
  }

  storedMessageBytes(sender: string): Promise<number> {
    return this.#run("count stored message bytes", () => {
      const row = this.#sql.storedBytes.get(sender) as Row;
      return Number(row.bytes);
    });
  }

  getDeliveredSeq(recipient: string): Promise<number> {
    return this.#run("read a delivery cursor", () => {
      const row = this.#sql.getCursor.get(recipient) as Row | undefined;
      return row === undefined ? 0 : row.delivered_seq as number;
    });
  }

  setDeliveredSeq(recipient: string, seq: number): Promise<void> {
    return this.#run("update a delivery cursor", () => {
      this.#sql.setCursor.run(recipient, seq);
    });
  }

  /** Waits for queued and in-flight appends to commit, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#committer.close();
    await this.#run("close the database", () => this.#db.close(), true);
  }

  /** One batch, one transaction: the whole batch commits or none of it does. */
  #appendBatch(items: NewEnvelope[]): AppendResult[] {
    const sql = this.#sql;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      const storedAt = Date.now();
      const results = items.map((e): AppendResult => {
        const inserted = sql.insertEnvelope.get(
          e.sender,
          e.clientId,
          e.conversation,
          JSON.stringify(e.recipients),
          e.body,
          storedAt,
        ) as Row | undefined;
        if (inserted === undefined) {
          // Same (sender, clientId) already stored, by an earlier batch or
          // earlier in this one: a retry, so report the original seq.
          const existing = sql.existingSeq.get(e.sender, e.clientId) as Row;
          return {
            seq: existing.seq as number,
            storedAt: existing.stored_at as number,
            duplicate: true,
          };
        }
        const seq = inserted.seq as number;
        for (const recipient of e.recipients) sql.insertRecipient.run(recipient, seq);
        return { seq, storedAt, duplicate: false };
      });
      this.#db.exec("COMMIT");
      return results;
    } catch (error) {
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      } catch { /* report the error that made us roll back, not this one */ }
      throw new StorageError(
        "storage_failed",
        `Cannot append ${items.length} envelopes: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }

  #run<T>(operation: string, body: () => T, whileClosing = false): Promise<T> {
    if (this.#closed && !whileClosing) return Promise.reject(closedError());
    try {
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(
        new StorageError("storage_failed", `Cannot ${operation}: ${messageOf(error)}`, {
          cause: error,
        }),
      );
    }
  }
}
