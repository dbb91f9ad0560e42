/**
 * Bounded waits for tests: a condition that never comes true fails the test
 * with a message naming what it waited for, instead of hanging the suite
 * (Deno's test runner has no timeout of its own).
 *
 * @module
 */

/** How long a wait may take, and what to call it when it does not come. */
export interface WaitOptions {
  /** What is awaited, for the failure message: "Bob's 3 messages". */
  what: string;
  /** Longest wait in ms; 10 000 unless given. */
  deadlineMs?: number;
}

/** How long {@linkcode until} polls between checks, unless told. */
export interface UntilOptions extends WaitOptions {
  /** Pause between two checks in ms; 10 unless given. */
  intervalMs?: number;
}

/** The deadline of a wait that names none: long enough for a loaded CI machine. */
export const DEFAULT_DEADLINE_MS = 10_000;

/**
 * Resolves once `predicate` returns true (checked at once, then every
 * `intervalMs`); rejects with an Error naming `what` if it is still false
 * after `deadlineMs`, or if it throws.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  options: UntilOptions,
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const intervalMs = options.intervalMs ?? 10;
  const start = performance.now();
  while (!(await predicate())) {
    if (performance.now() - start >= deadlineMs) throw timedOut(options.what, deadlineMs);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Resolves or rejects as `promise` does, unless `deadlineMs` passes first:
 * then rejects with an Error naming `what`. For waits that are woken by an
 * event rather than polled.
 */
export async function within<T>(promise: Promise<T>, options: WaitOptions): Promise<T> {
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut(options.what, deadlineMs)), deadlineMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function timedOut(what: string, deadlineMs: number): Error {
  return new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
}
