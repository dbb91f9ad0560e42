/**
 * Storage for accounts and envelopes: the {@linkcode Store} interface, the
 * embedded SQLite store, the MongoDB store, the group-commit batcher and the
 * contract suite any store must pass.
 *
 * @example Usage
 * ```ts ignore
 * import { openEmbeddedStore } from "./mod.ts";
 *
 * const store = await openEmbeddedStore(".ssp-data");
 * const [ack] = await store.appendEnvelopes([envelope]);
 * await store.close();
 * ```
 *
 * @module
 */
import { join } from "node:path";
import type { StoreDump } from "./migrate.ts";
import { MongoStore } from "./mongo.ts";
import { openMongoDump } from "./_mongo_dump.ts";
import { openSqliteDump } from "./_sqlite_dump.ts";
import type { Store } from "./types.ts";

export type * from "./types.ts";
export { SqliteStore } from "./sqlite.ts";
export { MongoStore, type MongoStoreOptions } from "./mongo.ts";
export {
  DEFAULT_MAX_BATCH,
  type FlushFn,
  GroupCommitter,
  type GroupCommitterOptions,
} from "./batcher.ts";
export { storeContract, type StoreFixture } from "./contract.ts";
export {
  type CursorRecord,
  migrateStore,
  type MigrationReport,
  type StoreDump,
} from "./migrate.ts";

export { EMBEDDED_DB_FILE, openEmbeddedStore } from "./embedded.ts";
import { EMBEDDED_DB_FILE, openEmbeddedStore } from "./embedded.ts";

/** Where {@linkcode openStore} keeps the data. */
export interface OpenStoreOptions {
  /** Data directory of the embedded store (used when `mongoUrl` is not given). */
  dataDir: string;
  /** A MongoDB connection string; when given, the data lives there instead. */
  mongoUrl?: string | undefined;
}

/**
 * Opens the MongoDB store if `mongoUrl` is given, else the embedded store in
 * `dataDir`.
 *
 * @throws {StorageError} if the store cannot be opened or reached; the
 * message names the URL (without its password) or path that was tried.
 */
export function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.mongoUrl) return MongoStore.connect(options.mongoUrl);
  return openEmbeddedStore(options.dataDir);
}

/**
 * Opens a store for {@linkcode migrateStore}: a `mongodb://` or
 * `mongodb+srv://` URL, or else a data directory of the embedded store
 * (created if missing).
 *
 * @example Copy an embedded store into MongoDB
 * ```ts ignore
 * const from = await openStoreDump(".ssp-data");
 * const to = await openStoreDump("mongodb://127.0.0.1:27017/ssp");
 * const report = await migrateStore(from, to); // counts and SHA-256 digests, verified
 * await Promise.all([from.close(), to.close()]);
 * ```
 *
 * @throws {StorageError} if it cannot be opened or reached.
 */
export async function openStoreDump(location: string): Promise<StoreDump> {
  if (/^mongodb(\+srv)?:\/\//.test(location)) return openMongoDump(location);
  await Deno.mkdir(location, { recursive: true, mode: 0o700 });
  return openSqliteDump(join(location, EMBEDDED_DB_FILE));
}
