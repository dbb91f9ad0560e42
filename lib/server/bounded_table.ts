/**
 * A size-bounded map for throttle state that never forgets an entry still in
 * force. When the table is full, a new key may only take the place of an
 * entry its owner says can go (the "evictable" test, e.g. "not blocked and
 * nothing in flight"); if none is found among the least recently touched
 * entries, the new key is refused instead, so a flood of other keys can never
 * wipe out a back-off that is running.
 *
 * @module
 */

/**
 * How many least recently touched entries one insertion examines at most.
 * Examined entries that must stay are moved to the back, so successive
 * insertions walk the whole table instead of re-reading the same head.
 */
export const EVICTION_SCAN = 64;

/** Keys with values, at most `maxEntries`, least recently touched first. */
export class BoundedTable<V> {
  readonly #entries = new Map<string, V>();
  readonly #maxEntries: number;
  readonly #evictable: (value: V) => boolean;

  /**
   * @param maxEntries most keys kept (at least 1)
   * @param evictable whether forgetting `value` loses nothing that is in force
   */
  constructor(maxEntries: number, evictable: (value: V) => boolean) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a whole number ≥ 1, got ${maxEntries}`);
    }
    this.#maxEntries = maxEntries;
    this.#evictable = evictable;
  }

  /** Number of keys held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The value of `key`, if held. */
  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /**
   * Stores `value` under `key` and marks it most recently touched. A new key
   * in a full table first evicts an evictable entry; returns false (and
   * stores nothing) if none was found.
   */
  set(key: string, value: V): boolean {
    if (this.#entries.has(key)) {
      this.#entries.delete(key);
    } else if (this.#entries.size >= this.#maxEntries && !this.#evictOne()) {
      return false;
    }
    this.#entries.set(key, value);
    return true;
  }

  /** Forgets `key`. */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  #evictOne(): boolean {
    const scan = Math.min(EVICTION_SCAN, this.#entries.size);
    for (let i = 0; i < scan; i++) {
      const [key, value] = this.#entries.entries().next().value!;
      this.#entries.delete(key);
      if (this.#evictable(value)) return true;
      this.#entries.set(key, value); // still in force: to the back, look further next time
    }
    return false;
  }
}
