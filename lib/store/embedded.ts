/**
 * Opening the embedded store, kept apart from `mod.ts` so that a server on
 * the embedded store does not load the MongoDB driver (about 20 MiB of
 * memory it would never use).
 *
 * @module
 */
import { join } from "node:path";
import { StorageError } from "../errors.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./types.ts";

/** File name of the embedded database inside the data directory. */
export const EMBEDDED_DB_FILE = "ssp.db";

/**
 * Opens the embedded store in `dataDir` (created if missing, mode 0700 since
 * it holds account verifiers), in the file {@linkcode EMBEDDED_DB_FILE}.
 *
 * @throws {StorageError} if the directory or database cannot be opened.
 */
export async function openEmbeddedStore(dataDir: string): Promise<Store> {
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StorageError(
      "storage_failed",
      `Cannot create the data directory ${dataDir}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error, hint: "check the path and its permissions, or choose another data dir" },
    );
  }
  return SqliteStore.open(join(dataDir, EMBEDDED_DB_FILE));
}
