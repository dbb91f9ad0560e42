/**
 * What counts as a finding of the fuzzer (tests/fuzzer.ts): the server hangs
 * past FUZZ_DEADLINE_MS, or answers with something it must not send.
 *
 * @module
 */
import { within as withinDeadline } from "../lib/testing/mod.ts";

/** How long the server may take to answer a sync ping or close: past it, it hangs. */
export const FUZZ_DEADLINE_MS = 15_000;

/** A finding: the server hung or answered with something it must not send. */
export class FuzzFailure extends Error {}

/** `promise`, or a FuzzFailure (the server hangs) once FUZZ_DEADLINE_MS pass. */
export async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => settled = true);
  try {
    return await withinDeadline(watched, { what, deadlineMs: FUZZ_DEADLINE_MS });
  } catch (error) {
    if (settled) throw error; // the promise's own failure
    throw new FuzzFailure(`${(error as Error).message}: the server hangs`, { cause: error });
  }
}
