/**
 * Exponential back-off for failed logins (docs/protocol.md §6.8). An attempt
 * is reserved before the password is checked and settled after, so attempts
 * running at the same time count against each other: a burst of parallel
 * guesses gets no more checks than the same guesses one after another.
 * While a key is backed off, attempts are refused without checking the
 * password (so the refusal costs nothing and reveals nothing).
 *
 * @module
 */
import { BoundedTable } from "./bounded_table.ts";

/** Tuning of the back-off. */
export interface ThrottlePolicy {
  /** Failures allowed before any delay. */
  freeFailures: number;
  /** Delay after the first failure beyond the free ones; doubles with each further failure. */
  baseDelayMs: number;
  /** Longest delay; a key with no failure for this long after its block ends starts afresh. */
  maxDelayMs: number;
  /** Most keys remembered (bounding memory under a flood of addresses or numbers). */
  maxEntries: number;
  /** Whether a successful attempt clears the key's failures. */
  clearOnSuccess: boolean;
}

/** Default size of each login throttle table. */
export const DEFAULT_THROTTLE_ENTRIES = 100_000;

/**
 * A number tried from devices that hold no device token: 5 free failures,
 * then 1 s, 2 s, 4 s … up to 15 minutes. A success does not clear it: the
 * owner logging in must not hand a guesser a fresh allowance.
 */
export const NUMBER_POLICY: ThrottlePolicy = {
  freeFailures: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  maxEntries: DEFAULT_THROTTLE_ENTRIES,
  clearOnSuccess: false,
};

/** A source address trying numbers without a device token (many users may share one). */
export const ADDRESS_POLICY: ThrottlePolicy = { ...NUMBER_POLICY, freeFailures: 20 };

/** A number tried from its known devices (a valid device token): its own back-off. */
export const DEVICE_POLICY: ThrottlePolicy = { ...NUMBER_POLICY, clearOnSuccess: true };

/** One key's back-off state (kept in memory here, or in the store: shared_throttle.ts). */
export interface ThrottleState {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
  /** Attempts reserved and not yet settled. */
  pending: number;
}

type Entry = ThrottleState;

/**
 * Reserves an attempt on `entry` (pending + 1) and returns 0, or returns the
 * milliseconds to wait and reserves nothing: while the key is blocked, and
 * while attempts in flight could use up its free failures. A key quiet for
 * `maxDelayMs` starts afresh. Pure: the caller keeps the state.
 */
export function reserveAttempt(entry: ThrottleState, policy: ThrottlePolicy, now: number): number {
  forgetIfQuiet(entry, policy, now);
  if (entry.blockedUntil > now) return entry.blockedUntil - now;
  // In flight beyond the allowance: wait for those to settle first.
  if (entry.pending > 0 && entry.failures + entry.pending > policy.freeFailures) {
    return policy.baseDelayMs;
  }
  entry.pending++;
  return 0;
}

/** Zeroes the failures of `entry` after a quiet spell of `maxDelayMs` with nothing in flight. */
export function forgetIfQuiet(entry: ThrottleState, policy: ThrottlePolicy, now: number): void {
  const quietSince = Math.max(entry.lastFailureAt, entry.blockedUntil);
  if (entry.pending === 0 && now - quietSince >= policy.maxDelayMs) {
    entry.failures = 0; // a long quiet spell: start afresh
  }
}

/**
 * Settles a reserved attempt on `entry` (pending − 1): a failure counts and,
 * past the free ones, blocks the key for a delay that doubles with each;
 * a success clears the failures if the policy says so.
 */
export function settleAttempt(
  entry: ThrottleState,
  failed: boolean,
  policy: ThrottlePolicy,
  now: number,
): void {
  entry.pending = Math.max(0, entry.pending - 1);
  if (failed) {
    entry.failures++;
    entry.lastFailureAt = now;
    const excess = entry.failures - policy.freeFailures;
    if (excess > 0) {
      const delay = Math.min(policy.baseDelayMs * 2 ** (excess - 1), policy.maxDelayMs);
      entry.blockedUntil = Math.max(entry.blockedUntil, now + delay);
    }
  } else if (policy.clearOnSuccess) {
    entry.failures = 0;
    entry.blockedUntil = 0;
  }
}

/** Failure counts, delays and attempts in flight for one kind of key. */
export class Throttle {
  readonly #policy: ThrottlePolicy;
  readonly #entries: BoundedTable<Entry>;
  readonly #now: () => number;

  constructor(policy: ThrottlePolicy, now: () => number = Date.now) {
    this.#policy = policy;
    this.#now = now;
    // Only an entry with nothing in flight and no block running may be
    // forgotten: forgetting a block would hand its guesser a fresh allowance.
    this.#entries = new BoundedTable(
      policy.maxEntries,
      (e) => e.pending === 0 && e.blockedUntil <= this.#now(),
    );
  }

  /** Keys remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Reserves an attempt for `key`. Returns 0 if it may go ahead — then it
   * MUST be settled exactly once — or else the milliseconds to wait (nothing
   * reserved). An attempt is refused while the key is blocked, while attempts
   * already in flight could use up its free failures, and when the table is
   * full of entries in force (the new key cannot be remembered).
   */
  reserve(key: string): number {
    const entry = this.#entries.get(key);
    if (!entry) {
      const fresh = { failures: 0, lastFailureAt: 0, blockedUntil: 0, pending: 1 };
      return this.#entries.set(key, fresh) ? 0 : this.#policy.baseDelayMs;
    }
    return reserveAttempt(entry, this.#policy, this.#now());
  }

  /** Settles a reserved attempt: `failed` counts a failure, else it succeeded. */
  settle(key: string, failed: boolean): void {
    const entry = this.#entries.get(key);
    if (!entry) return; // never happens: an entry with an attempt in flight is not evicted
    settleAttempt(entry, failed, this.#policy, this.#now());
    if (failed) this.#entries.set(key, entry); // most recently touched
    if (entry.pending === 0 && entry.failures === 0) this.#entries.delete(key);
  }

  /** Gives back a reservation whose attempt was not made (another key refused it). */
  release(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    entry.pending--;
    if (entry.pending === 0 && entry.failures === 0) this.#entries.delete(key);
  }
}

/**
 * A back-off whose state several servers share (`ChainThrottle`, shared_throttle.ts):
 * the same reserve / settle / release as {@linkcode Throttle}, each a change
 * in the store, a reservation named by the id `reserve` returns; and, for
 * attempts checked without a shared reservation, `peek` (one read) and
 * `record` (a change, or nothing for a success with nothing to clear).
 */
export interface SharedThrottle {
  /** The wait of `key` now (0: not blocked) and its failures counted; changes nothing. */
  peek(key: string): Promise<{ wait: number; failures: number }>;
  /** Counts an attempt that was not reserved here: a failure, or a success that clears. */
  record(key: string, failed: boolean): Promise<void>;
  /** Reserves an attempt: `{wait: 0, id}` to go ahead (settle or release `id` once), else the wait. */
  reserve(key: string): Promise<{ wait: number; id: string }>;
  /** Settles reservation `id`: `failed` counts a failure. */
  settle(key: string, id: string, failed: boolean): Promise<void>;
  /** Gives back reservation `id` (its attempt was not made). */
  release(key: string, id: string): Promise<void>;
}
