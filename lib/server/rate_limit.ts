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

/** One key's bucket: the requests left at `updatedAt` (fractions regained since). */
export interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * One request taken from `bucket` (null: a key never seen, full) at `now`:
 * the bucket after it and 0, or, if there is not a whole request left, the
 * bucket unchanged and the milliseconds until there is. Pure, so the bucket
 * can live in memory ({@linkcode RateLimiter}) or in a shared store
 * (lib/server/shared_registrations.ts). A clock behind `updatedAt` (another
 * server's) regains nothing and leaves `updatedAt` where it was, so no time
 * is counted twice.
 */
export function takeFromBucket(
  bucket: Bucket | null,
  policy: Pick<RatePolicy, "perPeriod" | "periodMs">,
  now: number,
): { bucket: Bucket | null; wait: number } {
  const tokens = refilled(bucket, policy, now);
  const interval = policy.periodMs / policy.perPeriod;
  if (tokens < 1) return { bucket, wait: Math.ceil((1 - tokens) * interval) };
  return {
    bucket: { tokens: tokens - 1, updatedAt: Math.max(now, bucket?.updatedAt ?? 0) },
    wait: 0,
  };
}

/** The requests `bucket` holds at `now`. */
function refilled(
  bucket: Bucket | null,
  policy: Pick<RatePolicy, "perPeriod" | "periodMs">,
  now: number,
): number {
  if (!bucket) return policy.perPeriod;
  const regained = Math.max(0, now - bucket.updatedAt) / (policy.periodMs / policy.perPeriod);
  return Math.min(policy.perPeriod, bucket.tokens + regained);
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
      (b) => refilled(b, policy, this.#now()) >= policy.perPeriod,
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
    const { bucket, wait } = takeFromBucket(
      this.#buckets.get(key) ?? null,
      this.#policy,
      this.#now(),
    );
    if (wait > 0) return wait;
    return this.#buckets.set(key, bucket!) ? 0 : Math.ceil(this.interval);
  }
}
