/**
 * Fairness between MongoStores that write envelopes to one database.
 *
 * Seqs are claimed by insert (see `_mongo_append.ts`), and a store continues after
 * its own last seq, so the store whose batches follow each other fastest
 * would claim the next seqs every time and starve the others (measured on
 * FerretDB: 43 batches to 1) — without ever colliding, so without knowing.
 * Hence: a store that collides marks it in the `writers` collection (looked
 * at every CONTENTION_CHECK_MS), and for CONTENTION_MEMORY_MS after anyone's
 * mark the stores take turns. Before each batch one waits 1–2 ×
 * FAIRNESS_PAUSE_MS if its last insert went through (0–0.2 × if it
 * collided), then starts after the top seq published in `seq_top`, one small
 * document, instead of a sorted find, which FerretDB answers by scanning
 * every envelope.
 *
 * Everything here is a hint: the unique `_id` of the envelopes decides. A
 * lost update (FerretDB's update and `$max` are not atomic) only delays a
 * turn or leaves the published top lower. Marks carry the marking server's
 * clock: keep the servers' clocks within about CONTENTION_MEMORY_MS.
 *
 * @module
 */
import { type Collection, type Db, MongoServerError } from "mongodb";
import { type Keyed, seqOf } from "./_mongo_docs.ts";

const FAIRNESS_PAUSE_MS = 10;
const CONTENTION_MEMORY_MS = 2000;
const CONTENTION_CHECK_MS = 250;
/** MongoDB's error code for a unique index violation. */
const DUPLICATE_KEY = 11000;

/** One store's side of the turn-taking. */
export class WriterTurns {
  readonly #writers: Collection<Keyed<string>>;
  readonly #top: Collection<Keyed<string>>;
  /** This store's name in `writers`. */
  readonly #id = crypto.randomUUID();
  /** Whether another writer marked contention lately, and when that was last looked up. */
  #contention = { seen: false, checkedAt: -Infinity };

  constructor(db: Db) {
    this.#writers = db.collection<Keyed<string>>("writers");
    this.#top = db.collection<Keyed<string>>("seq_top");
  }

  /** Whether another writer collided lately (looked up at most every CONTENTION_CHECK_MS). */
  async contended(): Promise<boolean> {
    const now = performance.now();
    if (now - this.#contention.checkedAt >= CONTENTION_CHECK_MS) {
      this.#contention.checkedAt = now;
      const recent = await this.#writers.findOne({
        _id: { $ne: this.#id },
        at: { $gt: Date.now() - CONTENTION_MEMORY_MS },
      });
      this.#contention.seen = recent !== null;
    }
    return this.#contention.seen;
  }

  /** Tells the other writers that this one collided. */
  async markCollision(): Promise<void> {
    await this.#writers.updateOne({ _id: this.#id }, { $set: { at: Date.now() } }, {
      upsert: true,
    });
    this.#contention = { seen: true, checkedAt: performance.now() };
  }

  /** The wait before a contended batch: longer after a win, so the others get in. */
  pause(wonLast: boolean): Promise<void> {
    const ms = (wonLast ? 1 + Math.random() : Math.random() / 5) * FAIRNESS_PAUSE_MS;
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /**
   * The highest seq published, or null. Never above the highest stored seq:
   * it is raised after the insert, and a lost update leaves it lower.
   */
  async readTop(): Promise<number | null> {
    const doc = await this.#top.findOne({ _id: "top" });
    return doc === null ? null : seqOf(doc, "seq");
  }

  /** Publishes `seq` (just inserted) as the highest, unless a higher one is. */
  async raiseTop(seq: number): Promise<void> {
    try {
      await this.#top.updateOne({ _id: "top" }, { $max: { seq } }, { upsert: true });
    } catch (error) {
      // Two first upserts raced: the other one created it.
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
    }
  }
}
