/**
 * Upload leases on MongoDB (or FerretDB): each file id's lease is a
 * {@linkcode MongoStateChain} of `{holder, until}` states in the
 * `upload_leases` collection. Taking a lease reads the newest version and,
 * if it is free, expired or already the taker's, inserts the next one; the
 * unique `_id` of that version admits exactly one of parallel takers (a
 * compare-and-set by insert: FerretDB has no atomic conditional update).
 * Releasing inserts a free version. Clocks: `until` is the holder's clock,
 * and a taker compares it with its own, so servers' clocks must agree to well
 * within a lease (docs/scaling.md asks for 2 s).
 *
 * @module
 */
import type { Db } from "mongodb";
import { MongoStateChain } from "./mongo_chain.ts";
import type { UploadLeases } from "./files.ts";

/** One version of a file's lease: who has it, until when (ms since the epoch). */
type LeaseState = {
  /** Null: free. */
  holder: string | null;
  until: number;
};

/** Upload leases in one database, shared by every server on it. */
export class MongoUploadLeases implements UploadLeases {
  readonly #chain: MongoStateChain<LeaseState>;
  readonly #now: () => number;

  private constructor(chain: MongoStateChain<LeaseState>, now: () => number) {
    this.#chain = chain;
    this.#now = now;
  }

  /** The leases of `db` (collection `upload_leases`, its index created if missing). */
  static async open(db: Db, now: () => number = Date.now): Promise<MongoUploadLeases> {
    return new MongoUploadLeases(await MongoStateChain.open<LeaseState>(db, "upload_leases"), now);
  }

  async acquire(fileId: string, holder: string, leaseMs: number): Promise<boolean> {
    let taken = false;
    // The update may run several times (once per compare-and-set round): decide afresh each time.
    await this.#chain.change(fileId, (state) => {
      const now = this.#now();
      taken = state === null || state.holder === null || state.holder === holder ||
        state.until <= now;
      return taken ? { holder, until: now + leaseMs } : null;
    });
    return taken;
  }

  async release(fileId: string, holder: string): Promise<void> {
    await this.#chain.change(
      fileId,
      (state) => state?.holder === holder ? { holder: null, until: 0 } : null,
    );
  }
}
