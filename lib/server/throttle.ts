/**
 * Exponential back-off for failed logins, per account and per source
 * address, so that guessing passwords online is slow whichever way an
 * attacker spreads the attempts. While a key is backed off, attempts are
 * refused without checking the password (so the refusal costs nothing and
 * reveals nothing).
 *
 * @module
 */

/** Tuning of the back-off. */
export interface ThrottlePolicy {
  /** Failures allowed before any delay. */
  freeFailures: number;
  /** Delay after the first failure beyond the free ones; doubles with each further failure. */
  baseDelayMs: number;
  /** Longest delay. */
  maxDelayMs: number;
  /** Most keys remembered (oldest forgotten first), bounding memory under a flood of addresses. */
  maxEntries: number;
}

/** Accounts: 5 free tries, then 1 s, 2 s, 4 s … up to 15 minutes. */
export const ACCOUNT_POLICY: ThrottlePolicy = {
  freeFailures: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  maxEntries: 100_000,
};

/** Source addresses (many users may share one): 20 free tries, then the same growth. */
export const ADDRESS_POLICY: ThrottlePolicy = { ...ACCOUNT_POLICY, freeFailures: 20 };

interface Entry {
  failures: number;
  blockedUntil: number;
}

/** Failure counts and delays for one kind of key. */
export class Throttle {
  readonly #policy: ThrottlePolicy;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(policy: ThrottlePolicy, now: () => number = Date.now) {
    this.#policy = policy;
    this.#now = now;
  }

  /** Milliseconds until `key` may try again (0 if it may now). */
  retryAfter(key: string): number {
    const entry = this.#entries.get(key);
    return entry ? Math.max(0, entry.blockedUntil - this.#now()) : 0;
  }

  /** Records a failure for `key`. */
  failure(key: string): void {
    const entry = this.#entries.get(key) ?? { failures: 0, blockedUntil: 0 };
    entry.failures++;
    const excess = entry.failures - this.#policy.freeFailures;
    if (excess > 0) {
      const delay = Math.min(this.#policy.baseDelayMs * 2 ** (excess - 1), this.#policy.maxDelayMs);
      entry.blockedUntil = this.#now() + delay;
    }
    this.#entries.delete(key); // re-insert: Map order is then least recently failed first
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#policy.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  /** Forgets `key`'s failures (after a successful login). */
  success(key: string): void {
    this.#entries.delete(key);
  }
}
