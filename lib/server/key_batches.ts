/**
 * One change in flight per key: items submitted for a key while its change
 * runs wait, and then go together as the next batch. The shared quotas and
 * rate limits use it so that a burst on one server costs one compare-and-set
 * in the database, not one per item, and contends with other servers only.
 *
 * @module
 */

interface Waiting<I, O> {
  item: I;
  resolve: (outcome: O) => void;
  reject: (error: unknown) => void;
}

/** Applies items per key in batches, in submission order (see the module doc). */
export class KeyBatches<I, O> {
  readonly #apply: (key: string, items: I[]) => Promise<O[]>;
  readonly #queued = new Map<string, Waiting<I, O>[]>();
  readonly #changing = new Set<string>();

  /** `apply` handles one batch of a key and returns each item's outcome, in order. */
  constructor(apply: (key: string, items: I[]) => Promise<O[]>) {
    this.#apply = apply;
  }

  /** Queues `item` for `key`; resolves with its outcome, or rejects with its batch's error. */
  submit(key: string, item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      let queue = this.#queued.get(key);
      if (!queue) this.#queued.set(key, queue = []);
      queue.push({ item, resolve, reject });
      if (!this.#changing.has(key)) void this.#drain(key);
    });
  }

  /** Applies `key`'s queued items, one batch at a time, until none are left. */
  async #drain(key: string): Promise<void> {
    this.#changing.add(key);
    try {
      for (;;) {
        const batch = this.#queued.get(key);
        this.#queued.delete(key);
        if (!batch) return;
        try {
          const outcomes = await this.#apply(key, batch.map((waiting) => waiting.item));
          batch.forEach((waiting, i) => waiting.resolve(outcomes[i]!));
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
        }
      }
    } finally {
      this.#changing.delete(key);
    }
  }
}
