/**
 * The MongoDB server the MongoStore tests run on, and their helpers: a real
 * MongoDB-protocol server, FerretDB, built and started by scripts/ferretdb.ts
 * once for each test file that imports this, or any MongoDB named by
 * `SSP_TEST_MONGO_URL`. Never skipped: if FerretDB cannot be built or
 * started (no Go, no module proxy), loading the test file fails and so does
 * the run, in CI and locally alike.
 *
 * @module
 */
import { dropDatabase, type FerretDb, startFerretDb } from "../../scripts/ferretdb.ts";
import { MongoStore, type MongoStoreOptions } from "./mongo.ts";
import type { NewEnvelope } from "./types.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
/** FerretDB on SQLite, or null when the tests run against `SSP_TEST_MONGO_URL`. */
export const ferret: FerretDb | null = external ? null : await startFerretDb();
/** The server's URL. */
export const url: string = external ?? ferret!.url;
// The launchers are killed when this test process exits (see scripts/ferretdb.ts).

let ferretPg: FerretDb | undefined;

/**
 * The servers the tests of several writers run on: FerretDB on SQLite and
 * on PostgreSQL (PostgreSQL runs on our machines; the backends differ in
 * locking), or the one MongoDB at `SSP_TEST_MONGO_URL`. Starts the
 * PostgreSQL one on first use.
 */
export async function writerBackends(): Promise<[name: string, url: string][]> {
  if (external) return [["MongoDB", url]];
  ferretPg ??= await startFerretDb({
    postgresql: Deno.env.get("SSP_TEST_POSTGRES_URL") ??
      "postgres://postgres@127.0.0.1:5432/postgres",
  });
  return [["FerretDB/SQLite", url], ["FerretDB/PostgreSQL", ferretPg.url]];
}
let databases = 0;
/** A database name no other test (or earlier run against the same server) uses. */
export function freshDbName(): string {
  return `ssp_test_${Date.now().toString(36)}_${databases++}`;
}

/** The sender of the envelopes from {@linkcode envelope}. */
export const ALICE = "+15550000001";
/** Their recipient. */
export const BOB = "+15550000002";

/** An envelope from ALICE to BOB; its body is `clientId` unless given. */
export function envelope(
  clientId: string,
  body: Uint8Array = new TextEncoder().encode(clientId),
): NewEnvelope {
  return {
    sender: ALICE,
    clientId,
    recipients: [BOB],
    conversation: `${ALICE},${BOB}`,
    body,
  };
}

/** Runs `body` on a MongoStore on a fresh database of `server`, then drops it. */
export async function withStore(
  body: (store: MongoStore, dbName: string) => Promise<void>,
  options: MongoStoreOptions = {},
  server = url,
): Promise<void> {
  const dbName = freshDbName();
  const store = await MongoStore.connect(server, { ...options, dbName });
  try {
    await body(store, dbName);
  } finally {
    await store.close();
    await dropDatabase(server, dbName);
  }
}
