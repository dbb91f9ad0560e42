/**
 * Error helpers shared by the store implementations.
 *
 * @module
 */
import { StorageError } from "../errors.ts";

/** A RangeError for a page limit that is not a non-negative integer, else null. */
export function limitError(limit: number): RangeError | null {
  if (Number.isSafeInteger(limit) && limit >= 0) return null;
  return new RangeError(`limit must be a non-negative integer, got ${limit}`);
}

/** The error of any call after `close()`. */
export function closedError(): StorageError {
  return new StorageError("storage_closed", "Cannot use the store: it is closed");
}

/** The message of an error, or the thing thrown as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
