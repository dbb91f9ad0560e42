/**
 * {@linkcode StoreDump} on MongoDB, for migration: the same collections and
 * documents as {@linkcode MongoStore}, written with the same write concern.
 *
 * @module
 */
import { type Document, MongoClient } from "mongodb";
import { StorageError } from "../errors.ts";
import type { CursorRecord, StoreDump } from "./migrate.ts";
import { MongoStore } from "./mongo.ts";
import {
  type Keyed,
  seqOf,
  text,
  toAccount,
  toAccountDocument,
  toDocument,
  toEnvelope,
} from "./_mongo_docs.ts";

/**
 * Opens the MongoDB database at `url` for migration, creating the indexes
 * MongoStore needs.
 *
 * @throws {StorageError} naming the URL if it is malformed or unreachable.
 */
export async function openMongoDump(url: string, dbName?: string): Promise<StoreDump> {
  const options = dbName === undefined ? {} : { dbName };
  // Connecting through the store creates the indexes and reports a bad or
  // unreachable URL with its usual message.
  await (await MongoStore.connect(url, options)).close();
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5000,
    writeConcern: { w: "majority", journal: true },
  });
  const db = client.db(dbName);
  const accounts = db.collection<Keyed<string>>("accounts");
  const envelopes = db.collection<Keyed<number>>("envelopes");
  const cursors = db.collection<Document>("cursors");
  const location = db.databaseName;

  const guard = async <T>(what: string, body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw new StorageError(
        "storage_failed",
        `Cannot ${what} in MongoDB database ${location}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
  };

  return {
    location: `MongoDB database ${location}`,
    isEmpty() {
      return guard("count documents", async () => {
        for (const collection of [accounts, envelopes, cursors]) {
          if (await collection.countDocuments({}, { limit: 1 }) > 0) return false;
        }
        return true;
      });
    },
    async *accounts() {
      for await (const doc of accounts.find().sort({ _id: 1 })) yield toAccount(doc);
    },
    async *envelopes() {
      for await (const doc of envelopes.find().sort({ _id: 1 })) yield toEnvelope(doc);
    },
    async *cursors(): AsyncGenerator<CursorRecord> {
      // The ack log may hold several entries per recipient: the cursor is the highest.
      let last: string | null = null;
      for await (const doc of cursors.find().sort({ recipient: 1, seq: -1 })) {
        const recipient = text(doc, "recipient");
        if (recipient === last) continue;
        last = recipient;
        yield { recipient, seq: seqOf(doc, "seq") };
      }
    },
    putAccounts(records) {
      return guard("write accounts", async () => {
        await accounts.insertMany(records.map(toAccountDocument), { ordered: true });
      });
    },
    putEnvelopes(records) {
      return guard("write envelopes", async () => {
        const docs = records.map((e) => toDocument(e, e.seq, e.storedAt));
        await envelopes.insertMany(docs, { ordered: true });
      });
    },
    putCursors(records) {
      return guard("write cursors", async () => {
        await cursors.insertMany(records.map((c) => ({ ...c })), { ordered: true });
      });
    },
    close() {
      return client.close();
    },
  };
}
