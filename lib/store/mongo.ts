/**
 * The MongoDB store, through the official driver (`npm:mongodb` 6.x). Tested
 * against FerretDB 1.24 (the MongoDB wire protocol on SQLite), and written to
 * need nothing FerretDB lacks: no transactions, no change streams, no TTL
 * indexes, and no atomic read-modify-write (FerretDB's update,
 * findAndModify and $inc read, modify and write back without a lock).
 *
 * What it relies on instead: single-document inserts are atomic and unique
 * indexes reject a second copy. Any number of servers may share one
 * database: seqs are claimed by insert, see `_mongo_append.ts`.
 *
 * Collections and indexes (created at start, idempotently):
 * - `accounts`: `_id` is the phone number, so the always-present unique `_id`
 *   index is the unique phone index and a lookup by phone is one index read.
 * - `envelopes`: `_id` is the seq (unique, and the order of mailbox and
 *   history); unique `(sender, clientId)` is the idempotency key; the
 *   recipients are an array in the envelope with a multikey `(recipients,
 *   _id)` index for mailboxes; `(conversation, _id)` serves history. Keeping
 *   recipients inside the envelope (instead of a mailbox collection) makes
 *   each envelope one atomic insert: without transactions, a second
 *   collection could be left half-written by an outage.
 * - `cursors`: an insert-only log of delivery acks, unique `(recipient, seq)`;
 *   see {@linkcode MongoStore.setDeliveredSeq}.
 *
 * @module
 */
import { MongoStateChain } from "./mongo_chain.ts";
import { type Collection, type Db, type Document, MongoClient, MongoServerError } from "mongodb";
import { StorageError } from "../errors.ts";
import { closedError, limitError, messageOf } from "./_errors.ts";
import { isPermissionError, permissionError, redact, storageError } from "./_mongo_errors.ts";
import { GroupCommitter } from "./batcher.ts";
import { EnvelopeAppender } from "./_mongo_append.ts";
import {
  bytes,
  type Keyed,
  seqOf,
  text,
  toAccount,
  toAccountDocument,
  toEnvelope,
} from "./_mongo_docs.ts";
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

/** Options of {@linkcode MongoStore.connect}. */
export interface MongoStoreOptions {
  /** Database name; default: the one in the URL's path, else `"ssp"`. */
  dbName?: string;
  /**
   * How long an operation waits for a reachable server before it fails with
   * a StorageError (the driver's serverSelectionTimeoutMS). Default 2000.
   */
  timeoutMs?: number;
  /**
   * How long a request may go unanswered on an open connection (a hung
   * server, a partition) before it fails (the driver's socketTimeoutMS).
   * Default 10000; keep it above the slowest expected query.
   */
  replyTimeoutMs?: number;
  /** Most envelopes per insert batch (see GroupCommitter). */
  maxBatch?: number;
}

/** MongoDB's error code for a unique index violation. */
const DUPLICATE_KEY = 11000;

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

/**
 * Acknowledged only once a majority of a replica set has the write in its
 * journal, so an acknowledged envelope survives a crash and a failover. On a
 * standalone mongod this means "journaled"; FerretDB accepts and ignores it
 * (its SQLite backend commits every write before answering).
 */
const WRITE_CONCERN = { w: "majority", journal: true } as const;

/** A {@linkcode Store} on MongoDB (or FerretDB). */
export class MongoStore implements Store {
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly #accounts: Collection<Keyed<string>>;
  readonly #envelopes: Collection<Keyed<number>>;
  readonly #cursors: Collection<Document>;
  readonly #appender: EnvelopeAppender;
  readonly #committer: GroupCommitter<NewEnvelope, AppendResult>;
  #closed = false;

  private constructor(client: MongoClient, db: Db, maxBatch: number | undefined) {
    this.#client = client;
    this.#db = db;
    this.#accounts = db.collection<Keyed<string>>("accounts");
    this.#envelopes = db.collection<Keyed<number>>("envelopes");
    this.#cursors = db.collection("cursors");
    this.#appender = new EnvelopeAppender(db);
    this.#committer = new GroupCommitter(
      (items) => this.#appender.append(items),
      maxBatch === undefined ? {} : { maxBatch },
    );
  }

  /**
   * Connects to `url` and creates the collections' indexes if missing.
   *
   * @throws {StorageError} saying which hosts were tried if the URL is
   * malformed or no server answers within `timeoutMs`.
   */
  static async connect(url: string, options: MongoStoreOptions = {}): Promise<MongoStore> {
    const shown = redact(url);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let client: MongoClient;
    try {
      client = new MongoClient(url, {
        serverSelectionTimeoutMS: timeoutMs,
        connectTimeoutMS: timeoutMs,
        // A server that accepts a request but never answers must not hang a
        // send forever: give up on a silent socket after a while.
        socketTimeoutMS: options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS,
        writeConcern: WRITE_CONCERN,
        appName: "ssp-server",
      });
    } catch (error) {
      if (isPermissionError(error)) throw permissionError(shown, error);
      throw new StorageError(
        "storage_failed",
        `Invalid MongoDB URL ${shown}: ${messageOf(error)}`,
        {
          cause: error,
          hint: "expected mongodb://HOST[:PORT][,HOST…]/DATABASE[?OPTIONS] or mongodb+srv://…",
        },
      );
    }
    try {
      await client.connect();
      const db = client.db(options.dbName);
      const store = new MongoStore(client, db, options.maxBatch);
      await store.#createIndexes();
      return store;
    } catch (error) {
      await client.close().catch(() => {});
      if (isPermissionError(error)) throw permissionError(shown, error);
      throw new StorageError(
        "storage_unavailable",
        `Cannot use MongoDB at ${shown} (tried for ${timeoutMs} ms): ${messageOf(error)}`,
        {
          cause: error,
          hint: "check that the server is running and reachable from here, and the host, port, " +
            "credentials and database in --mongo / SSP_MONGO_URL",
        },
      );
    }
  }

  /** Number of append batches written (each is one insertMany, retries aside). */
  get flushes(): number {
    return this.#committer.flushes;
  }

  /** Times a batch found a seq taken by another writer and claimed again. */
  get seqCollisions(): number {
    return this.#appender.seqCollisions;
  }

  /** Number of envelopes passed to those batches, duplicates included. */
  get flushedEnvelopes(): number {
    return this.#committer.flushedItems;
  }

  createAccount(account: AccountRecord): Promise<boolean> {
    return this.#run("create an account", async () => {
      try {
        await this.#accounts.insertOne(toAccountDocument(account));
        return true;
      } catch (error) {
        if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false;
        throw error;
      }
    });
  }

  /**
   * Versioned states in collection `name` of this database, shared by every
   * server on it (lib/store/mongo_chain.ts), e.g. the login back-off.
   */
  stateChain<S extends Document>(name: string): Promise<MongoStateChain<S>> {
    return MongoStateChain.open<S>(this.#db, name);
  }

  getAccount(phone: string): Promise<AccountRecord | null> {
    return this.#run("read an account", async () => {
      const doc = await this.#accounts.findOne({ _id: phone });
      return doc === null ? null : toAccount(doc);
    });
  }

  updateCredentials(phone: string, update: CredentialUpdate): Promise<boolean> {
    return this.#run("update credentials", async () => {
      const { kdfSalt, kdfParams, verifierSalt, verifier, keyBackup } = update;
      const result = await this.#accounts.updateOne({ _id: phone }, {
        $set: { kdfSalt, kdfParams, verifierSalt, verifier, keyBackup },
      });
      return result.matchedCount === 1;
    });
  }

  getPublicKeys(phones: string[]): Promise<PublicKeys[]> {
    return this.#run("read public keys", async () => {
      if (phones.length === 0) return [];
      const docs = await this.#accounts.find(
        { _id: { $in: [...new Set(phones)] } },
        { projection: { encryptionKey: 1, signingKey: 1 } },
      ).toArray();
      return docs.map((doc) => ({
        phone: text(doc, "_id"),
        encryptionKey: bytes(doc, "encryptionKey"),
        signingKey: bytes(doc, "signingKey"),
      }));
    });
  }

  appendEnvelopes(envelopes: NewEnvelope[]): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#committer.submit(envelopes);
  }

  mailbox(recipient: string, afterSeq: number, limit: number): Promise<StoredEnvelope[]> {
    const invalid = limitError(limit);
    if (invalid) return Promise.reject(invalid);
    return this.#run("read a mailbox", async () => {
      // limit(0) means "no limit" to MongoDB.
      if (limit === 0) return [];
      const docs = await this.#envelopes.find({ recipients: recipient, _id: { $gt: afterSeq } })
        .sort({ _id: 1 }).limit(limit).toArray();
      return docs.map(toEnvelope);
    });
  }

  history(member: string, conversation: string, query: HistoryQuery): Promise<StoredEnvelope[]> {
    const invalid = limitError(query.limit);
    if (invalid) return Promise.reject(invalid);
    return this.#run("read history", async () => {
      if (query.limit === 0) return [];
      const range: Document = { $gt: query.after ?? 0 };
      if (query.before !== undefined) range.$lt = query.before;
      const filter = {
        conversation,
        _id: range,
        $or: [{ sender: member }, { recipients: member }],
      };
      // With `after` alone, the oldest page above it; otherwise the newest
      // page (fetched newest first so the limit keeps them), oldest first.
      const newest = query.after === undefined || query.before !== undefined;
      const docs = await this.#envelopes.find(filter).sort({ _id: newest ? -1 : 1 })
        .limit(query.limit).toArray();
      const envelopes = docs.map(toEnvelope);
      return newest ? envelopes.reverse() : envelopes;
    });
  }

  storedMessageBytes(sender: string): Promise<number> {
    return this.#run("count stored message bytes", async () => {
      const [row] = await this.#envelopes.aggregate([
        { $match: { sender, bodyBytes: { $exists: true } } },
        { $group: { _id: null, bytes: { $sum: "$bodyBytes" } } },
      ]).toArray();
      let total = row === undefined ? 0 : Number(row.bytes);
      // Envelopes written before `bodyBytes` existed: read their bodies once.
      const older = this.#envelopes.find(
        { sender, bodyBytes: { $exists: false } },
        { projection: { body: 1 } },
      );
      for await (const doc of older) total += bytes(doc, "body").length;
      return total;
    });
  }

  getDeliveredSeq(recipient: string): Promise<number> {
    return this.#run("read a delivery cursor", async () => {
      const doc = await this.#cursors.find({ recipient }).sort({ seq: -1 }).limit(1).next();
      return doc === null ? 0 : seqOf(doc, "seq");
    });
  }

  /**
   * Appends `seq` to the recipient's ack log; the cursor is the log's
   * maximum, so it never moves backwards whatever order acks arrive in.
   *
   * Not `updateOne({recipient, seq: {$lt: seq}}, {$set…}, {upsert})`: on a
   * real MongoDB that is atomic per document, but FerretDB applies updates
   * as an unlocked read-modify-write, so two concurrent acks could both match
   * and the smaller could win. Inserts never overwrite, so the log is safe
   * on both. The trim afterwards deletes only entries below one that exists,
   * so it can never remove the maximum, even racing other trims.
   */
  setDeliveredSeq(recipient: string, seq: number): Promise<void> {
    return this.#run("update a delivery cursor", async () => {
      try {
        await this.#cursors.insertOne({ recipient, seq });
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
      }
      await this.#cursors.deleteMany({ recipient, seq: { $lt: seq } });
    });
  }

  /** Waits for queued and in-flight appends, then closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#committer.close();
    await this.#client.close();
  }

  async #createIndexes(): Promise<void> {
    // One index per command: FerretDB 1.24 drops the connection (a panic,
    // "slice bounds out of range") when one createIndexes command lists
    // several indexes that already exist, as on every start but the first.
    const envelopes = [
      { key: { sender: 1, clientId: 1 }, name: "sender_clientId", unique: true },
      { key: { recipients: 1, _id: 1 }, name: "recipients_seq" },
      { key: { conversation: 1, _id: 1 }, name: "conversation_seq" },
    ];
    for (const index of envelopes) await this.#envelopes.createIndexes([index]);
    await this.#cursors.createIndexes([
      { key: { recipient: 1, seq: 1 }, name: "recipient_seq", unique: true },
    ]);
  }

  async #run<T>(operation: string, body: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError();
    try {
      return await body();
    } catch (error) {
      throw storageError(operation, error);
    }
  }
}
