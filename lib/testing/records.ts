/**
 * Test helpers for the AEAD and the record layer: the nonce of a record
 * counter, and an assertion on a RecordError's code.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RecordError } from "../errors.ts";

/** A predicate for `assert.throws`/`rejects`: a RecordError with this `code`. */
export function isRecordError(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof RecordError, `expected RecordError, got ${error}`);
    assert.equal(error.code, code);
    return true;
  };
}

/** Nonce of record `counter`: 4 zero bytes || 64-bit big-endian counter. */
export function nonceFor(counter: number): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  return nonce;
}
