/**
 * How MongoStore appends envelopes: seqs are claimed by insert, since
 * FerretDB has no atomic counter, and the unique `_id` of the envelopes
 * arbitrates between any number of writers on one database (see
 * {@linkcode EnvelopeAppender.append}). The turn-taking between writers that
 * keeps one from starving the others is `_mongo_turns.ts`.
 *
 * @module
 */
import { type Collection, type Db, MongoBulkWriteError, type WriteError } from "mongodb";
import { StorageError } from "../errors.ts";
import { storageError } from "./_mongo_errors.ts";
import { WriterTurns } from "./_mongo_turns.ts";
import { type Keyed, seqOf, toDocument } from "./_mongo_docs.ts";
import type { AppendResult, NewEnvelope } from "./types.ts";

/** MongoDB's error code for a unique index violation. */
const DUPLICATE_KEY = 11000;
/**
 * Seq collisions with other writers one batch tolerates before it fails (the
 * senders then retry).
 */
const MAX_SEQ_COLLISIONS = 100;
/** While contended, a failing envelope is looked up (a scan on FerretDB) only this often. */
const LOOKUP_EVERY = 4;
/** Most documents per insertMany (see {@linkcode EnvelopeAppender.append}). */
const MAX_INSERT_DOCS = 100;

/** One MongoStore's writer of envelope batches (its GroupCommitter's flush). */
export class EnvelopeAppender {
  readonly #envelopes: Collection<Keyed<number>>;
  readonly #turns: WriterTurns;
  #seqCollisions = 0;
  /** Where the next batch tries first: every seq below it exists. Null: read the highest. */
  #nextSeq: number | null = null;
  /** Whether this store's last insert went through without a collision. */
  #wonLast = false;

  constructor(db: Db) {
    this.#envelopes = db.collection<Keyed<number>>("envelopes");
    this.#turns = new WriterTurns(db);
  }

  /** Times a batch found a seq taken by another writer and claimed again. */
  get seqCollisions(): number {
    return this.#seqCollisions;
  }

  /**
   * Writes one batch with ordered insertMany calls and returns a result per item.
   *
   * Several servers may write to one database, and FerretDB has no atomic
   * counter (its `$inc` loses updates), so seqs are claimed by insert: the
   * batch is inserted at the seqs from `#nextSeq` on, and the unique `_id`
   * arbitrates. `#nextSeq` is only a starting point, never trusted: every
   * seq below it is known to exist (read as the highest stored, or written
   * by this store), so an insert there can collide but never leave a gap. If
   * another writer got there first, the insert stops at the first taken
   * seq; we read the highest stored seq and retry the rest.
   *
   * This keeps the one property delivery relies on: seq s is inserted only
   * once s-1 exists, so every new envelope is the highest one yet, seqs have
   * no gaps, and no reader can see seq s without s-1. A mailbox reader
   * therefore never delivers s, acknowledges past s-1 and skips it, however
   * many writers there are.
   *
   * At most MAX_INSERT_DOCS per insertMany: FerretDB 1.24 inserts in
   * internal batches of 100 and, after a duplicate key, goes on with the
   * next internal batch, so a longer "ordered" insert can leave a gap.
   */
  async append(items: NewEnvelope[]): Promise<AppendResult[]> {
    const results: AppendResult[] = new Array(items.length);
    // Duplicates within the batch: only the first copy is written.
    const first = new Map<string, number>();
    const copies: [copy: number, original: number][] = [];
    let pending: number[] = [];
    items.forEach((e, i) => {
      const key = JSON.stringify([e.sender, e.clientId]);
      const original = first.get(key);
      if (original === undefined) {
        first.set(key, i);
        pending.push(i);
      } else {
        copies.push([i, original]);
      }
    });

    const storedAt = Date.now();
    // Seqs this batch may have written for each item: after a lost reply the
    // driver retries the insert, and the duplicate it then hits may be our own.
    const tried = new Map<number, number>();
    let collisions = 0;
    let lastFailed = -1;
    /** The highest seq this batch found taken by another writer. */
    let takenSeq = 0;
    let failures = 0;
    try {
      while (pending.length > 0) {
        const contended = await this.#turns.contended();
        let next: number;
        if (contended) {
          // Take turns: a writer whose last insert went through waits a
          // while, so that one whose insert collided can get in; then start
          // after the highest seq any writer published.
          await this.#turns.pause(this.#wonLast);
          // The published top is stale if a seq above it is known to be taken.
          const top = await this.#turns.readTop();
          next = top === null || top < takenSeq
            ? await this.#readNextSeq()
            : Math.max(top + 1, this.#nextSeq ?? 0);
        } else {
          next = this.#nextSeq ?? await this.#readNextSeq();
        }
        const chunk = pending.slice(0, MAX_INSERT_DOCS);
        const docs = chunk.map((i, k) => {
          tried.set(next + k, i);
          return toDocument(items[i]!, next + k, storedAt);
        });
        const failed = await this.#insertOrdered(docs);
        const written = failed ?? chunk.length;
        for (let k = 0; k < written; k++) {
          results[chunk[k]!] = { seq: next + k, storedAt, duplicate: false };
        }
        this.#nextSeq = next + written;
        if (contended && written > 0) await this.#turns.raiseTop(next + written - 1);
        this.#wonLast = failed === null;
        if (failed === null) {
          pending = pending.slice(chunk.length);
          continue;
        }
        // An ordered insert stops at the failure: nothing from there on is ours.
        for (let k = failed; k < chunk.length; k++) tried.delete(next + k);

        // A unique index refused chunk[failed]: its (sender, clientId) is
        // already stored, or another writer holds its seq. FerretDB's error
        // does not say which index, and looking the envelope up scans the
        // collection, so while writers contend we first assume a taken seq
        // and look only at every LOOKUP_EVERY-th failure of the same envelope.
        const item = chunk[failed]!;
        const { sender, clientId } = items[item]!;
        failures = item === lastFailed ? failures + 1 : 1;
        lastFailed = item;
        const lookUp = !contended || failures % LOOKUP_EVERY === 0;
        const existing = lookUp
          ? await this.#envelopes.findOne({ sender, clientId }, {
            projection: { _id: 1, storedAt: 1 },
          })
          : null;
        if (existing !== null) {
          const seq = seqOf(existing, "_id");
          results[item] = {
            seq,
            storedAt: seqOf(existing, "storedAt"),
            duplicate: tried.get(seq) !== item,
          };
          pending = pending.slice(failed + 1);
        } else {
          if (++collisions > MAX_SEQ_COLLISIONS) {
            throw new StorageError(
              "storage_unavailable",
              `Cannot claim envelope seqs: ${collisions} collisions with other writers`,
              { hint: "the database is saturated by other ssp servers' writes; retry" },
            );
          }
          this.#seqCollisions++;
          takenSeq = next + failed;
          await this.#turns.markCollision();
          this.#nextSeq = null;
          pending = pending.slice(failed);
        }
      }
    } catch (error) {
      // Some documents may have been written before the error.
      this.#nextSeq = null;
      throw storageError(`append ${items.length} envelopes`, error);
    }
    for (const [copy, original] of copies) {
      results[copy] = { ...results[original]!, duplicate: true };
    }
    return results;
  }

  /** Inserts `docs` in order; returns null, or the index of a duplicate key that stopped it. */
  async #insertOrdered(docs: Keyed<number>[]): Promise<number | null> {
    try {
      await this.#envelopes.insertMany(docs, { ordered: true });
      return null;
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const writeErrors: WriteError[] = Array.isArray(error.writeErrors)
        ? error.writeErrors
        : [error.writeErrors];
      const firstError = writeErrors[0];
      if (firstError?.code !== DUPLICATE_KEY) throw error;
      return firstError.index;
    }
  }

  async #readNextSeq(): Promise<number> {
    const last = await this.#envelopes.find({}, { projection: { _id: 1 } }).sort({ _id: -1 })
      .limit(1).next();
    return last === null ? 1 : seqOf(last, "_id") + 1;
  }
}
