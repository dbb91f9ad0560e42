/**
 * Rate limits shared by every server on one database (`--mongo`;
 * docs/security.md), so that N servers do not admit N times the
 * registrations: each key's token bucket (`Bucket`, the same as in memory)
 * lives in a {@linkcode StateChain}, a chain of versions changed by
 * compare-and-set (lib/store/mongo_chain.ts). A take reads the newest
 * bucket, applies the pure `takeFromBucket` and inserts the next version;
 * of takes on different servers that read the same version the unique
 * `_id` admits one and the others read again. A refusal writes nothing.
 *
 * Each server queues its takes of one key while a change of that key is in
 * flight and applies them together in the next change, each granted while a
 * request is left: one database change per burst, key and server, and at
 * most one contender per server for the key (the total, `reg:*`, is one key
 * for every registration).
 *
 * @module
 */
import type { StateChain } from "../store/types.ts";
import { type Bucket, type RatePolicy, takeFromBucket } from "./rate_limit.ts";
import { KeyBatches } from "./key_batches.ts";

/** Put before every registration key in the chain (the collection `registration_limits`). */
export const REGISTRATION_KEY_PREFIX = "reg:";

/** The key of the total over all addresses (no address is `*`): `reg:*`. */
export const ALL_ADDRESSES_KEY = "*";

/** One rate limit over many keys, its buckets in a shared {@linkcode StateChain}. */
export class ChainRateLimiter {
  readonly #chain: StateChain<Bucket>;
  readonly #policy: Pick<RatePolicy, "perPeriod" | "periodMs">;
  readonly #now: () => number;
  readonly #prefix: string;
  /** Takes, one change of a key's bucket at a time; each outcome is its wait (0: granted). */
  readonly #takes = new KeyBatches<void, number>((key, takes) => this.#apply(key, takes.length));

  /** @param prefix put before every key in the chain (keeps kinds of keys apart) */
  constructor(
    chain: StateChain<Bucket>,
    policy: Pick<RatePolicy, "perPeriod" | "periodMs">,
    now: () => number = Date.now,
    prefix = REGISTRATION_KEY_PREFIX,
  ) {
    if (!(policy.perPeriod >= 1) || !(policy.periodMs > 0)) {
      throw new RangeError("a rate limit needs perPeriod ≥ 1 and periodMs > 0");
    }
    this.#chain = chain;
    this.#policy = policy;
    this.#now = now;
    this.#prefix = prefix;
  }

  /**
   * Spends one request of `key`'s allowance: 0 if it was there, else the
   * milliseconds until it will be (nothing spent). Throws the store's error.
   */
  take(key: string): Promise<number> {
    return this.#takes.submit(key, undefined);
  }

  /** `count` takes in one compare-and-set: each one's wait (0: granted). */
  async #apply(key: string, count: number): Promise<number[]> {
    let waits: number[] = [];
    // The update may run several times (once per round): decide afresh each time.
    await this.#chain.change(this.#prefix + key, (stored) => {
      const now = this.#now();
      let bucket = stored;
      let granted = false;
      waits = Array.from({ length: count }, () => {
        const taken = takeFromBucket(bucket, this.#policy, now);
        if (taken.wait > 0) return taken.wait;
        bucket = taken.bucket;
        granted = true;
        return 0;
      });
      return granted ? bucket : null;
    });
    return waits;
  }
}
