/**
 * Token-bucket rate limits (registrations per address and in total, messages
 * per account; docs/protocol.md §6.5, §7.5). Each key may spend `perPeriod`
 * at once and regains them evenly over `periodMs`. Taking is synchronous, so
 * requests running in parallel cannot spend the same allowance twice.
 *
 * @module
 */
import { BoundedTable } from "./bounded_table.ts";

/** Tuning of one limit. */
export interface RatePolicy {
  /** Requests allowed per period, and the largest burst. */
  perPeriod: number;
  /** The period, in milliseconds. */
  periodMs: number;
  /** Most keys remembered at once. */
  maxEntries: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** One limit over many keys. */
export class RateLimiter {
  readonly #policy: RatePolicy;
  readonly #buckets: BoundedTable<Bucket>;
  readonly #now: () => number;

  constructor(policy: RatePolicy, now: () => number = Date.now) {
    if (!(policy.perPeriod >= 1) || !(policy.periodMs > 0)) {
      throw new RangeError("a rate limit needs perPeriod ≥ 1 and periodMs > 0");
    }
    this.#policy = policy;
    this.#now = now;
    // A bucket that has filled up again says nothing a fresh one would not.
    this.#buckets = new BoundedTable(
      policy.maxEntries,
      (b) => this.#refilled(b, this.#now()) >= policy.perPeriod,
    );
  }

  /** Milliseconds until one more request may go: the time one token takes to come back. */
  get interval(): number {
    return this.#policy.periodMs / this.#policy.perPeriod;
  }

  /**
   * Spends one request of `key`'s allowance. Returns 0 if it was there, else
   * the milliseconds until it will be (nothing spent). A new key is refused
   * when the table is full of keys still short of their allowance.
   */
  take(key: string): number {
    const now = this.#now();
    const bucket = this.#buckets.get(key);
    const tokens = bucket ? this.#refilled(bucket, now) : this.#policy.perPeriod;
    if (tokens < 1) return Math.ceil((1 - tokens) * this.interval);
    const next = { tokens: tokens - 1, updatedAt: now };
    return this.#buckets.set(key, next) ? 0 : Math.ceil(this.interval);
  }

  #refilled(bucket: Bucket, now: number): number {
    const regained = (now - bucket.updatedAt) / this.interval;
    return Math.min(this.#policy.perPeriod, bucket.tokens + regained);
  }
}
