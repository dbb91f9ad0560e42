/**
 * How MongoStore reports failures: outages as "storage_unavailable" (retry),
 * the rest as "storage_failed", missing Deno permissions with the flag to
 * add, and URLs without their passwords.
 *
 * @module
 */
import {
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
} from "mongodb";
import { StorageError } from "../errors.ts";
import { messageOf } from "./_errors.ts";

/** Outages become "storage_unavailable"; everything else "storage_failed". */
export function storageError(operation: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const unavailable = error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError || error instanceof MongoOperationTimeoutError;
  return new StorageError(
    unavailable ? "storage_unavailable" : "storage_failed",
    `Cannot ${operation}: ${messageOf(error)}`,
    unavailable
      ? { cause: error, hint: "MongoDB is unreachable; retry shortly", retryAfterMs: 1000 }
      : { cause: error },
  );
}

/** Whether an insert was refused by a unique index (a compare-and-set by insert lost). */
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

/**
 * The driver reads os.release() for its handshake metadata and Deno's
 * node:fs checks the uid, so Deno must grant `--allow-sys=osRelease,uid`.
 */
const SYS_PERMISSIONS = "--allow-sys=osRelease,uid";

export function isPermissionError(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}

export function permissionError(shown: string, error: unknown): StorageError {
  return new StorageError(
    "storage_failed",
    `Cannot use MongoDB at ${shown}: ${messageOf(error)}`,
    { cause: error, hint: `the MongoDB driver needs ${SYS_PERMISSIONS} (and --allow-net)` },
  );
}

/** The URL with any password replaced, for error messages and logs. */
export function redact(url: string): string {
  return url.replace(/^(mongodb(?:\+srv)?:\/\/[^:@/]*):[^@/]*@/, "$1:***@");
}
