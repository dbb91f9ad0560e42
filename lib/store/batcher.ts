/**
 * Group commit: many concurrent writers share one durable commit.
 *
 * A durable commit costs one fsync, whether it writes one row or a thousand.
 * `GroupCommitter` queues the items of concurrent `submit()` calls and hands
 * them to one `flush()` call, then routes each caller its slice of the
 * results. It knows nothing about the database, so the SQLite store and a
 * later MongoDB store can both use it.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { StorageError } from "../errors.ts";

/** Options of a {@linkcode GroupCommitter}. */
export interface GroupCommitterOptions {
  /**
   * Most items per flush. Whole submits are never split, so one submit larger
   * than this is flushed alone. Default 4096.
   */
  maxBatch?: number;
}

/** Flushes a batch: returns one result per item, in the order of `items`. */
export type FlushFn<I, R> = (items: I[]) => Promise<R[]> | R[];

interface Pending<I, R> {
  items: I[];
  resolve(results: R[]): void;
  reject(error: unknown): void;
}

/** Default for {@linkcode GroupCommitterOptions.maxBatch}. */
export const DEFAULT_MAX_BATCH = 4096;

/**
 * Batches concurrent submits into shared flushes.
 *
 * Submits that arrive while a flush runs, or in the same macrotask (they are
 * collected until the event loop's next check phase, after pending I/O), go
 * into the next flush together. One flush runs at a time. If a flush throws,
 * every submit in that batch rejects with a {@linkcode StorageError} and later
 * batches still run.
 *
 * @example Usage
 * ```ts
 * import { GroupCommitter } from "./batcher.ts";
 *
 * const committer = new GroupCommitter((items: number[]) => items.map((n) => n * 2));
 * const [a, b] = await Promise.all([committer.submit([1, 2]), committer.submit([3])]);
 * // a = [2, 4], b = [6], committer.flushes = 1
 * ```
 */
export class GroupCommitter<I, R> {
  /** Number of flush calls made so far (for tests and benchmarks). */
  flushes = 0;
  /** Number of items passed to flush calls so far. */
  flushedItems = 0;

  readonly #flush: FlushFn<I, R>;
  readonly #maxBatch: number;
  #queue: Pending<I, R>[] = [];
  #scheduled = false;
  #running: Promise<void> | null = null;
  #closed = false;

  /**
   * @param flush Writes a batch durably and returns one result per item.
   * @param options Batch size limit.
   */
  constructor(flush: FlushFn<I, R>, options: GroupCommitterOptions = {}) {
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
    this.#flush = flush;
    this.#maxBatch = maxBatch;
  }

  /**
   * Queues `items` for the next flush and resolves with their results, in
   * order, once that flush has completed.
   *
   * @throws {StorageError} if the flush failed or the committer is closed.
   */
  submit(items: I[]): Promise<R[]> {
    if (this.#closed) {
      return Promise.reject(
        new StorageError("storage_closed", "Cannot write: the store is closed"),
      );
    }
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      this.#schedule();
    });
  }

  /** Number of submits waiting for a flush. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Refuses new submits, then resolves once every queued submit has been
   * flushed (successfully or not).
   */
  async close(): Promise<void> {
    this.#closed = true;
    // A pending setImmediate with an empty queue has nothing to flush, so
    // only the queue and a running drain matter here.
    while (this.#running !== null || this.#queue.length > 0) {
      if (this.#running === null) this.#running = this.#drain();
      await this.#running;
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#running !== null) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: callers woken by the previous flush
    // resubmit from microtasks, and network reads land in the poll phase;
    // waiting for the check phase lets all of them join this batch. Unlike a
    // nested setTimeout(0), it is not clamped to 4 ms.
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#running === null) this.#running = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        await this.#flushOne(this.#takeBatch());
        if (this.#queue.length > 0 && !this.#closed) {
          // Yield to the event loop so the callers just woken can add to the
          // next batch instead of trickling in one by one.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.#running = null;
    }
  }

  #takeBatch(): Pending<I, R>[] {
    let count = 0;
    let taken = 0;
    while (taken < this.#queue.length) {
      const size = this.#queue[taken]!.items.length;
      if (taken > 0 && count + size > this.#maxBatch) break;
      count += size;
      taken++;
    }
    return this.#queue.splice(0, taken);
  }

  async #flushOne(batch: Pending<I, R>[]): Promise<void> {
    const items = batch.flatMap((p) => p.items);
    this.flushes++;
    this.flushedItems += items.length;
    let results: R[];
    try {
      results = await this.#flush(items);
      if (!Array.isArray(results) || results.length !== items.length) {
        throw new TypeError(
          `flush returned ${
            Array.isArray(results) ? results.length : typeof results
          } results for ${items.length} items`,
        );
      }
    } catch (error) {
      const wrapped = error instanceof StorageError ? error : new StorageError(
        "storage_failed",
        `Group commit of ${items.length} items failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
      for (const p of batch) p.reject(wrapped);
      return;
    }
    let offset = 0;
    for (const p of batch) {
      p.resolve(results.slice(offset, offset + p.items.length));
      offset += p.items.length;
    }
  }
}
