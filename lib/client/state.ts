/**
 * The client's own database (`client.db` in its data dir, SQLite): pinned
 * contact keys, ids of envelopes already received (replay detection), a
 * local copy of each account's encrypted key backup, and the device token
 * each server gave at the last login. Nothing in it is plaintext except
 * public keys and phone numbers.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";

/** File name of the client database inside the data dir. */
export const CLIENT_DB_FILE = "client.db";

/** A contact's pinned keys; `pending*` hold a changed key the user has not accepted yet. */
export interface Contact {
  phone: string;
  signingKey: Uint8Array;
  encryptionKey: Uint8Array;
  /** "trusted" while the server shows the pinned keys; "changed" once it shows others. */
  status: "trusted" | "changed";
  pendingSigningKey: Uint8Array | null;
  pendingEncryptionKey: Uint8Array | null;
  /** Milliseconds since the epoch when first pinned. */
  pinnedAt: number;
}

/**
 * An upload not yet finished: its ids and file key. Kept in the client's
 * own database (like its other keys) so a resumed upload reuses the key —
 * a fresh key would need the whole file sent again.
 */
export interface PendingUpload {
  fileId: string;
  messageId: string;
  key: Uint8Array;
}

/** A local copy of an account's key material (encrypted under the wrap key). */
export interface LocalAccount {
  phone: string;
  kdfSalt: Uint8Array;
  kdfParams: string;
  keyBackup: Uint8Array;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS contacts (
  owner TEXT NOT NULL, phone TEXT NOT NULL,
  signing_key BLOB NOT NULL, encryption_key BLOB NOT NULL,
  status TEXT NOT NULL, pending_signing_key BLOB, pending_encryption_key BLOB,
  pinned_at INTEGER NOT NULL,
  PRIMARY KEY (owner, phone)
);
CREATE TABLE IF NOT EXISTS seen (
  owner TEXT NOT NULL, sender TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (owner, sender, message_id)
);
CREATE TABLE IF NOT EXISTS uploads (
  owner TEXT NOT NULL, resume_key TEXT NOT NULL, file_id TEXT NOT NULL, message_id TEXT NOT NULL,
  file_key BLOB NOT NULL, PRIMARY KEY (owner, resume_key)
);
CREATE TABLE IF NOT EXISTS accounts (
  phone TEXT PRIMARY KEY, kdf_salt BLOB NOT NULL, kdf_params TEXT NOT NULL, key_backup BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS device_tokens (
  server_key BLOB NOT NULL, phone TEXT NOT NULL, token BLOB NOT NULL,
  PRIMARY KEY (server_key, phone)
);
`;

/**
 * Opens (creating) the client database in `dataDir` (a private directory)
 * and creates the tables of `schema` that are missing. Several connections
 * may share it: WAL mode, and a busy timeout instead of "database is locked".
 */
export async function openClientDatabase(dataDir: string, schema: string): Promise<DatabaseSync> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(join(dataDir, CLIENT_DB_FILE));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
  // A forgotten upload's file path and key (or an outbox text) must not linger in free pages:
  // deleted rows are overwritten with zeros (this costs writes only on the rare deletes).
  db.exec("PRAGMA secure_delete = ON");
  db.exec(schema);
  return db;
}

/** The client database of one data dir, seen from one account (`owner`). */
export class ClientState {
  readonly #db: DatabaseSync;
  readonly owner: string;

  private constructor(db: DatabaseSync, owner: string) {
    this.#db = db;
    this.owner = owner;
  }

  /** Opens (creating) the database in `dataDir` for account `owner`. */
  static async open(dataDir: string, owner: string): Promise<ClientState> {
    return new ClientState(await openClientDatabase(dataDir, SCHEMA), owner);
  }

  /** The pinned keys of `phone`, or null if never seen. */
  contact(phone: string): Contact | null {
    const row = this.#db.prepare("SELECT * FROM contacts WHERE owner = ? AND phone = ?")
      .get(this.owner, phone);
    return row ? toContact(row) : null;
  }

  /** Every contact, by phone number. */
  contacts(): Contact[] {
    return this.#db.prepare("SELECT * FROM contacts WHERE owner = ? ORDER BY phone")
      .all(this.owner).map(toContact);
  }

  /** Pins keys seen for the first time. */
  pin(phone: string, signingKey: Uint8Array, encryptionKey: Uint8Array): void {
    this.#db.prepare(
      `INSERT INTO contacts (owner, phone, signing_key, encryption_key, status, pinned_at)
       VALUES (?, ?, ?, ?, 'trusted', ?)
       ON CONFLICT (owner, phone) DO UPDATE SET signing_key = excluded.signing_key,
         encryption_key = excluded.encryption_key, status = 'trusted',
         pending_signing_key = NULL, pending_encryption_key = NULL, pinned_at = excluded.pinned_at`,
    ).run(this.owner, phone, signingKey, encryptionKey, Date.now());
  }

  /** Records that the server now shows other keys for a pinned contact. */
  markChanged(phone: string, signingKey: Uint8Array, encryptionKey: Uint8Array): void {
    this.#db.prepare(
      `UPDATE contacts SET status = 'changed', pending_signing_key = ?, pending_encryption_key = ?
       WHERE owner = ? AND phone = ?`,
    ).run(signingKey, encryptionKey, this.owner, phone);
  }

  /**
   * Records an envelope id delivered at `seq`: "new" the first time,
   * "redelivery" for the same id at the same seq (the acknowledgement was
   * lost), "replay" for the same id at another seq.
   */
  markSeen(sender: string, messageId: string, seq: number): "new" | "redelivery" | "replay" {
    const inserted = this.#db.prepare(
      "INSERT OR IGNORE INTO seen (owner, sender, message_id, seq) VALUES (?, ?, ?, ?)",
    ).run(this.owner, sender, messageId, seq);
    if (inserted.changes === 1) return "new";
    const row = this.#db.prepare(
      "SELECT seq FROM seen WHERE owner = ? AND sender = ? AND message_id = ?",
    ).get(this.owner, sender, messageId);
    return Number(row?.seq) === seq ? "redelivery" : "replay";
  }

  /** The local copy of an account's encrypted keys. */
  localAccount(phone: string): LocalAccount | null {
    const row = this.#db.prepare("SELECT * FROM accounts WHERE phone = ?").get(phone);
    if (!row) return null;
    return {
      phone: String(row.phone),
      kdfSalt: bytes(row.kdf_salt),
      kdfParams: String(row.kdf_params),
      keyBackup: bytes(row.key_backup),
    };
  }

  /** Saves the local copy of an account's encrypted keys. */
  saveLocalAccount(account: LocalAccount): void {
    this.#db.prepare(
      `INSERT INTO accounts (phone, kdf_salt, kdf_params, key_backup) VALUES (?, ?, ?, ?)
       ON CONFLICT (phone) DO UPDATE SET kdf_salt = excluded.kdf_salt,
         kdf_params = excluded.kdf_params, key_backup = excluded.key_backup`,
    ).run(account.phone, account.kdfSalt, account.kdfParams, account.keyBackup);
  }

  /** The device token the server with identity key `serverKey` gave `phone` (§6.9), if any. */
  deviceToken(serverKey: Uint8Array, phone: string): Uint8Array | null {
    const row = this.#db.prepare(
      "SELECT token FROM device_tokens WHERE server_key = ? AND phone = ?",
    ).get(serverKey, phone);
    return row ? bytes(row.token) : null;
  }

  /** Keeps the device token of the latest login to `phone` on that server. */
  saveDeviceToken(serverKey: Uint8Array, phone: string, token: Uint8Array): void {
    this.#db.prepare(
      "INSERT OR REPLACE INTO device_tokens (server_key, phone, token) VALUES (?, ?, ?)",
    ).run(serverKey, phone, token);
  }

  /** An unfinished upload of the file identified by `resumeKey` (path, size, mtime, recipients). */
  upload(resumeKey: string): PendingUpload | null {
    const row = this.#db.prepare("SELECT * FROM uploads WHERE owner = ? AND resume_key = ?")
      .get(this.owner, resumeKey);
    if (!row) return null;
    return {
      fileId: String(row.file_id),
      messageId: String(row.message_id),
      key: bytes(row.file_key),
    };
  }

  /** Remembers an upload until it finishes, so an interrupted one resumes with the same key. */
  saveUpload(resumeKey: string, upload: PendingUpload): void {
    this.#db.prepare(
      `INSERT OR REPLACE INTO uploads (owner, resume_key, file_id, message_id, file_key)
       VALUES (?, ?, ?, ?, ?)`,
    ).run(this.owner, resumeKey, upload.fileId, upload.messageId, upload.key);
  }

  /** Forgets a finished upload (and its file key). */
  forgetUpload(resumeKey: string): void {
    this.#db.prepare("DELETE FROM uploads WHERE owner = ? AND resume_key = ?")
      .run(this.owner, resumeKey);
    // The write-ahead log still holds the page as it was, path and key included, until a
    // checkpoint; a client that stays open (interactive) would keep them there. Copy the
    // zeroed page back and empty the log now.
    this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

function bytes(value: unknown): Uint8Array {
  return new Uint8Array(value as Uint8Array);
}

function toContact(row: Record<string, unknown>): Contact {
  return {
    phone: String(row.phone),
    signingKey: bytes(row.signing_key),
    encryptionKey: bytes(row.encryption_key),
    status: row.status === "changed" ? "changed" : "trusted",
    pendingSigningKey: row.pending_signing_key ? bytes(row.pending_signing_key) : null,
    pendingEncryptionKey: row.pending_encryption_key ? bytes(row.pending_encryption_key) : null,
    pinnedAt: Number(row.pinned_at),
  };
}
