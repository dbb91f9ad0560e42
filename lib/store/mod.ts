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
import { StorageError } from "../errors.ts";
import { DiskFileStore, EMBEDDED_FILES_DIR } from "./disk_files.ts";
import type { ServerDump, StoreDump } from "./migrate.ts";
import type { DumpableFileStore } from "./_migrate_files.ts";
import { MongoStore } from "./mongo.ts";
import { MongoFileStore } from "./mongo_files.ts";
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
  type ServerDump,
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
 * Opens a server's data for {@linkcode migrateStore}: at a `mongodb://` or
 * `mongodb+srv://` URL, the message store and the file store in that
 * database; else, in a data directory of the embedded store (created if
 * missing), its database file and its file store in the `files`
 * subdirectory, where `ssp-server` keeps them. Close it to release both.
 *
 * @example Copy an embedded store into MongoDB
 * ```ts ignore
 * const from = await openStoreDump(".ssp-data");
 * const to = await openStoreDump("mongodb://127.0.0.1:27017/ssp");
 * const report = await migrateStore(from, to); // counts and SHA-256 digests, verified
 * await Promise.all([from.close(), to.close()]);
 * ```
 *
 * With `existing`, a data directory must already hold a store: a source
 * named with a typo is refused rather than read as an empty store.
 *
 * @throws {StorageError} if either store cannot be opened or reached, or
 *   (`no_store`) `existing` is set and the directory holds no store.
 */
export async function openStoreDump(
  location: string,
  { existing = false }: { existing?: boolean } = {},
): Promise<ServerDump> {
  if (/^mongodb(\+srv)?:\/\//.test(location)) {
    return serverDump(await openMongoDump(location), () => MongoFileStore.connect(location));
  }
  if (existing) {
    try {
      await Deno.stat(join(location, EMBEDDED_DB_FILE));
    } catch (cause) {
      throw new StorageError("no_store", `no ssp store in ${location}`, {
        hint: "name the server's data dir (its --data) or a mongodb:// URL",
        cause,
      });
    }
  }
  await Deno.mkdir(location, { recursive: true, mode: 0o700 });
  return serverDump(
    await openSqliteDump(join(location, EMBEDDED_DB_FILE)),
    () => DiskFileStore.open(join(location, EMBEDDED_FILES_DIR)),
  );
}

/** Pairs the message store with the file store it opens (closing the former if that fails). */
async function serverDump(
  messages: StoreDump,
  openFiles: () => Promise<DumpableFileStore>,
): Promise<ServerDump> {
  let files: DumpableFileStore;
  try {
    files = await openFiles();
  } catch (error) {
    await messages.close().catch(() => {});
    throw error;
  }
  return {
    location: messages.location,
    messages,
    files,
    async close() {
      const closed = await Promise.allSettled([messages.close(), files.close()]);
      for (const result of closed) if (result.status === "rejected") throw result.reason;
    },
  };
}
