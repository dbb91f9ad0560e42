/**
 * The stores `ssp-server` runs on: the embedded ones in its data dir, or
 * MongoDB with the state chains every server on the database shares.
 *
 * @module
 */
import { join } from "node:path";
import { openEmbeddedStore } from "../store/embedded.ts";
import { DiskFileStore, EMBEDDED_FILES_DIR } from "../store/disk_files.ts";
import type { FileStore } from "../store/files.ts";
import type { StateChain, Store } from "../store/types.ts";
import type { MessageUsage } from "./message_quota.ts";
import type { Bucket } from "./rate_limit.ts";
import { type SharedLoginThrottles, sharedLoginThrottles } from "./shared_throttle.ts";

/** What {@linkcode openServerStores} opened; the shared state only on MongoDB. */
export interface ServerStores {
  store: Store;
  files: FileStore;
  shared?: SharedLoginThrottles;
  sharedRegistrations?: StateChain<Bucket>;
  messageUsage?: StateChain<MessageUsage>;
}

/**
 * The embedded stores in `dataDir`, or MongoDB when a URL is given. The
 * MongoDB modules load only then: the driver costs a server on the embedded
 * store about 20 MiB of memory otherwise.
 */
export async function openServerStores(
  dataDir: string,
  mongoUrl: string | undefined,
): Promise<ServerStores> {
  if (!mongoUrl) {
    return {
      store: await openEmbeddedStore(dataDir),
      files: await DiskFileStore.open(join(dataDir, EMBEDDED_FILES_DIR)),
    };
  }
  const { MongoStore } = await import("../store/mongo.ts");
  const { MongoFileStore } = await import("../store/mongo_files.ts");
  const store = await MongoStore.connect(mongoUrl);
  return {
    store,
    files: await MongoFileStore.connect(mongoUrl),
    // Every server on the database shares the login back-offs (numbers, addresses, devices).
    shared: sharedLoginThrottles(await store.stateChain("login_throttle")),
    // … and the registration buckets (each address's, and the total).
    sharedRegistrations: await store.stateChain<Bucket>("registration_limits"),
    // Every server on the database shares each account's message quota.
    messageUsage: await store.stateChain<MessageUsage>("message_usage"),
  };
}
