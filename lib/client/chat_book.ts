/**
 * What the terminal client remembers about conversations, locally (in
 * `client.db` beside the pinned keys, never on the server): the names the
 * user gave to numbers, each conversation's last activity and unread count
 * for the conversation list, and the outbox: texts typed that the server has
 * not confirmed yet (offline, or the connection dropped while sending).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { openClientDatabase } from "./state.ts";

/** Longest name the user can give a contact, in characters. */
export const MAX_NAME_CHARS = 64;

/** A text waiting in the outbox, with the message id it will be sent under. */
export interface QueuedText {
  id: string;
  members: string[];
  text: string;
}

/** A conversation in the list. */
export interface Chat {
  /** The other members, sorted. */
  members: string[];
  /** Milliseconds since the epoch of the last message seen. */
  lastAt: number;
  /** Messages received since the conversation was last shown. */
  unread: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS names (
  owner TEXT NOT NULL, phone TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (owner, phone)
);
CREATE TABLE IF NOT EXISTS chats (
  owner TEXT NOT NULL, members TEXT NOT NULL, last_at INTEGER NOT NULL, unread INTEGER NOT NULL,
  PRIMARY KEY (owner, members)
);
CREATE TABLE IF NOT EXISTS outbox (
  position INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, message_id TEXT NOT NULL,
  members TEXT NOT NULL, text TEXT NOT NULL, UNIQUE (owner, message_id)
);
`;

/** Names and conversations of one account (`owner`) in a client data dir. */
export class ChatBook {
  readonly #db: DatabaseSync;
  readonly owner: string;

  private constructor(db: DatabaseSync, owner: string) {
    this.#db = db;
    this.owner = owner;
  }

  /** Opens (creating) the book in `dataDir` for account `owner`. */
  static async open(dataDir: string, owner: string): Promise<ChatBook> {
    return new ChatBook(await openClientDatabase(dataDir, SCHEMA), owner);
  }

  /**
   * Names `phone` (or forgets its name when `name` is empty).
   *
   * @throws {RangeError} If the name is too long, starts with "+" or a digit (it would read as
   *   a number), holds a comma (which separates members), or is another contact's name.
   */
  setName(phone: string, name: string): void {
    const trimmed = name.trim();
    if (trimmed === "") {
      this.#db.prepare("DELETE FROM names WHERE owner = ? AND phone = ?").run(this.owner, phone);
      return;
    }
    if ([...trimmed].length > MAX_NAME_CHARS) {
      throw new RangeError(`a name has at most ${MAX_NAME_CHARS} characters`);
    }
    if (/^[+\d]/.test(trimmed) || trimmed.includes(",")) {
      throw new RangeError("a name cannot start with + or a digit, nor hold a comma");
    }
    const taken = this.phoneNamed(trimmed);
    if (taken !== undefined && taken !== phone) {
      throw new RangeError(`${taken} is already called ${trimmed}`);
    }
    this.#db.prepare(
      `INSERT INTO names (owner, phone, name) VALUES (?, ?, ?)
       ON CONFLICT (owner, phone) DO UPDATE SET name = excluded.name`,
    ).run(this.owner, phone, trimmed);
  }

  /** The name given to `phone`, if any. */
  nameOf(phone: string): string | undefined {
    const row = this.#db.prepare("SELECT name FROM names WHERE owner = ? AND phone = ?")
      .get(this.owner, phone);
    return row ? String(row.name) : undefined;
  }

  /** The number named `name` (compared without regard to case), if any. */
  phoneNamed(name: string): string | undefined {
    const row = this.#db.prepare(
      "SELECT phone FROM names WHERE owner = ? AND lower(name) = lower(?)",
    ).get(this.owner, name.trim());
    return row ? String(row.phone) : undefined;
  }

  /** Records a message in the conversation with `members`, counting it unread if `unread`. */
  noteMessage(members: string[], at: number, unread: boolean): void {
    this.#db.prepare(
      `INSERT INTO chats (owner, members, last_at, unread) VALUES (?, ?, ?, ?)
       ON CONFLICT (owner, members) DO UPDATE SET last_at = max(last_at, excluded.last_at),
         unread = unread + excluded.unread`,
    ).run(this.owner, key(members), at, unread ? 1 : 0);
  }

  /** Marks the conversation with `members` as read. */
  markRead(members: string[]): void {
    this.#db.prepare("UPDATE chats SET unread = 0 WHERE owner = ? AND members = ?")
      .run(this.owner, key(members));
  }

  /** Every conversation, the most recent first. */
  chats(): Chat[] {
    return this.#db.prepare(
      "SELECT members, last_at, unread FROM chats WHERE owner = ? ORDER BY last_at DESC",
    ).all(this.owner).map((row) => ({
      members: String(row.members).split(","),
      lastAt: Number(row.last_at),
      unread: Number(row.unread),
    }));
  }

  /**
   * Puts a text in the outbox before it is sent, under the id it will keep
   * for every attempt (the server stores one message per id, so a retry after
   * an unclear failure cannot make a second copy).
   */
  queue(item: QueuedText): void {
    this.#db.prepare(
      "INSERT INTO outbox (owner, message_id, members, text) VALUES (?, ?, ?, ?)",
    ).run(this.owner, item.id, key(item.members), item.text);
  }

  /** Takes a text out of the outbox (the server confirmed it, or refused it for good). */
  unqueue(id: string): void {
    this.#db.prepare("DELETE FROM outbox WHERE owner = ? AND message_id = ?").run(this.owner, id);
  }

  /** The texts in the outbox, in the order they were typed. */
  queued(): QueuedText[] {
    return this.#db.prepare(
      "SELECT message_id, members, text FROM outbox WHERE owner = ? ORDER BY position",
    ).all(this.owner).map((row) => ({
      id: String(row.message_id),
      members: String(row.members).split(","),
      text: String(row.text),
    }));
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

function key(members: string[]): string {
  return [...new Set(members)].sort().join(",");
}
