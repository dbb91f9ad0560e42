/**
 * The per-number login back-off shared by every server on one MongoDB
 * database (docs/scaling.md, docs/security.md), so that N servers do not give
 * a guesser N budgets.
 *
 * Each number's state is a chain of versions in `login_throttle`,
 * `{_id: "PHONE:N", key, version: N, failures, lastFailureAt, blockedUntil,
 * reservations: [{id, until}]}`. A change (reserve, settle, release) reads
 * the newest version, applies the same pure transition as the in-memory
 * throttle (`reserveAttempt`, `settleAttempt`) and inserts version N+1; of
 * changes that read N at once, the unique `_id` admits one and the others
 * read again — a compare-and-set by insert, since FerretDB has neither
 * transactions nor an atomic conditional update. Every change is thus applied
 * to the state all the others left: parallel logins through any number of
 * servers get exactly the allowance one server gives.
 *
 * A reservation carries an expiry (`RESERVATION_MS`) so that a server killed
 * between reserve and settle does not hold the number's allowance for ever;
 * a check taking longer than that (the store's reply timeout is 10 s) would
 * let one more attempt through. Versions 2 … newest − 16 are deleted (every
 * 4th change), which keeps FerretDB's scans of the collection short. A change
 * that read version N and then inserted N+1 after N was deleted (16 changes
 * of the same number came in between) would not be built on the newest
 * state: after each insert the change checks that N still exists, else takes
 * its insert back and reads again. Version 1 is never deleted, so a change
 * that found no chain cannot start one beside it.
 *
 * @module
 */
import type { Collection, Db } from "mongodb";
import { StorageError } from "../errors.ts";
import {
  reserveAttempt,
  settleAttempt,
  type SharedThrottle,
  type ThrottlePolicy,
  type ThrottleState,
} from "../server/throttle.ts";
import { isDuplicateKey, storageError } from "./_mongo_errors.ts";

/** How long a reservation counts without being settled (a server died mid-check). */
export const RESERVATION_MS = 60_000;
/** Compare-and-set rounds one change may take before it gives up (`storage_busy`). */
const MAX_ATTEMPTS = 100;
/** Versions kept behind the newest (and version 1). */
const KEPT_VERSIONS = 16;

interface ThrottleDoc {
  _id: string;
  key: string;
  version: number;
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
  reservations: { id: string; until: number }[];
}

/** A {@linkcode SharedThrottle} on MongoDB (or FerretDB). */
export class MongoThrottle implements SharedThrottle {
  readonly #docs: Collection<ThrottleDoc>;
  readonly #policy: ThrottlePolicy;
  readonly #now: () => number;

  private constructor(db: Db, policy: ThrottlePolicy, now: () => number) {
    this.#docs = db.collection<ThrottleDoc>("login_throttle");
    this.#policy = policy;
    this.#now = now;
  }

  /** A throttle over `db`'s `login_throttle` collection (its index created if missing). */
  static async open(
    db: Db,
    policy: ThrottlePolicy,
    now: () => number = Date.now,
  ): Promise<MongoThrottle> {
    const throttle = new MongoThrottle(db, policy, now);
    try {
      await throttle.#docs.createIndex({ key: 1, version: -1 });
    } catch (error) {
      throw storageError("create the login throttle's index", error);
    }
    return throttle;
  }

  async reserve(key: string): Promise<{ wait: number; id: string }> {
    const id = crypto.randomUUID();
    let wait = 0;
    await this.#change(key, (state, reservations, now) => {
      wait = reserveAttempt(state, this.#policy, now);
      if (wait > 0) return null;
      reservations.push({ id, until: now + RESERVATION_MS });
      return reservations;
    });
    return { wait, id: wait > 0 ? "" : id };
  }

  async settle(key: string, id: string, failed: boolean): Promise<void> {
    await this.#change(key, (state, reservations, now) => {
      const mine = reservations.findIndex((r) => r.id === id);
      if (mine < 0 && !failed) return null; // expired, and nothing to count
      if (mine >= 0) reservations.splice(mine, 1);
      else state.pending++; // expired: still count the failure
      settleAttempt(state, failed, this.#policy, now);
      return reservations;
    });
  }

  async release(key: string, id: string): Promise<void> {
    await this.#change(key, (_state, reservations) => {
      const mine = reservations.findIndex((r) => r.id === id);
      if (mine < 0) return null;
      reservations.splice(mine, 1);
      return reservations;
    });
  }

  /**
   * Applies `update` to the newest state of `key` and inserts the result as
   * the next version; reads again if another change inserted it first.
   * `update` gets the state with unexpired reservations counted as pending
   * and returns the reservations to keep, or null for no change.
   */
  async #change(
    key: string,
    update: (
      state: ThrottleState,
      reservations: ThrottleDoc["reservations"],
      now: number,
    ) => ThrottleDoc["reservations"] | null,
  ): Promise<void> {
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const newest = await this.#docs.find({ key }).sort({ version: -1 }).limit(1).next();
        const now = this.#now();
        const live = (newest?.reservations ?? []).filter((r) => r.until > now);
        const state: ThrottleState = {
          failures: newest?.failures ?? 0,
          lastFailureAt: newest?.lastFailureAt ?? 0,
          blockedUntil: newest?.blockedUntil ?? 0,
          pending: live.length,
        };
        const reservations = update(state, live, now);
        if (reservations === null) return;
        const version = (newest?.version ?? 0) + 1;
        try {
          await this.#docs.insertOne({
            _id: `${key}:${version}`,
            key,
            version,
            failures: state.failures,
            lastFailureAt: state.lastFailureAt,
            blockedUntil: state.blockedUntil,
            reservations,
          });
        } catch (error) {
          if (isDuplicateKey(error)) continue; // another change came first: read again
          throw error;
        }
        if (
          version > 2 && await this.#docs.countDocuments({ _id: `${key}:${version - 1}` }) === 0
        ) {
          // What we read was deleted meanwhile: our insert is stale (not the newest). Undo it.
          await this.#docs.deleteOne({ _id: `${key}:${version}` });
          continue;
        }
        if (version % 4 === 0) {
          await this.#docs.deleteMany({ key, version: { $gt: 1, $lte: version - KEPT_VERSIONS } });
        }
        return;
      }
    } catch (error) {
      throw storageError("update the login throttle", error);
    }
    throw new StorageError("storage_busy", `too many parallel logins for ${key}`, {
      retryAfterMs: 1000,
      hint: "retry in a moment",
    });
  }
}
