/**
 * A {@linkcode StateChain} on MongoDB (or FerretDB): each key's state is a
 * chain of versions, `{_id: "KEY:N", key, version: N, state}`. A change reads
 * the newest version, computes the next state and inserts version N+1; of
 * changes that read N at once, the unique `_id` admits one and the others
 * read again — a compare-and-set by insert, since FerretDB has neither
 * transactions nor an atomic conditional update. Every change is thus applied
 * to the state all the others left.
 *
 * Versions 2 … newest − 16 are deleted (at every 4th change), which keeps
 * FerretDB's scans of the collection short. A change that read version N and
 * inserted N+1 after N+1 had been pruned (16 changes of the same key came in
 * between) would not be built on the newest state: after each insert the
 * change reads the newest version, and if that is N+1+16 or later it takes
 * its insert back and reads again. (A change with 16 others completed between
 * its insert and that read is taken back too and applied twice: for a
 * throttle, one failure counted twice.) Version 1 is never deleted, so a
 * change that found no chain cannot start a second one.
 *
 * @module
 */
import type { Collection, Db, Document } from "mongodb";
import { StorageError } from "../errors.ts";
import { isDuplicateKey, storageError } from "./_mongo_errors.ts";
import type { StateChain } from "./types.ts";

/** Compare-and-set rounds one change may take before it gives up (`storage_busy`). */
const MAX_ATTEMPTS = 100;
/** Versions kept behind the newest (and version 1). */
export const KEPT_VERSIONS = 16;

/** Options of {@linkcode MongoStateChain.open}. */
export interface StateChainOptions {
  /**
   * Runs in every change between the read of the newest version and the
   * insert of the next (tests: to act at exactly that point, e.g. delete the
   * version read).
   */
  beforeInsert?: (key: string, version: number) => Promise<void>;
}

interface VersionDoc<S> {
  _id: string;
  key: string;
  version: number;
  state: S;
}

/** Chains of versioned states in one collection. */
export class MongoStateChain<S extends Document> implements StateChain<S> {
  readonly #docs: Collection<VersionDoc<S>>;
  readonly #what: string;
  readonly #beforeInsert: StateChainOptions["beforeInsert"] | undefined;

  private constructor(docs: Collection<VersionDoc<S>>, options: StateChainOptions) {
    this.#docs = docs;
    this.#what = docs.collectionName;
    this.#beforeInsert = options.beforeInsert;
  }

  /** The chains of collection `name` of `db` (its index created if missing). */
  static async open<S extends Document>(
    db: Db,
    name: string,
    options: StateChainOptions = {},
  ): Promise<MongoStateChain<S>> {
    const docs = db.collection<VersionDoc<S>>(name);
    try {
      await docs.createIndex({ key: 1, version: -1 });
    } catch (error) {
      throw storageError(`create the index of ${name}`, error);
    }
    return new MongoStateChain(docs, options);
  }

  async read(key: string): Promise<S | null> {
    try {
      return (await this.#newest(key))?.state ?? null;
    } catch (error) {
      throw storageError(`read ${this.#what}`, error);
    }
  }

  /**
   * Whether our insert of `version` (which succeeded) went in after that
   * version had been pruned: then some change had already inserted version
   * + 16 or later, and the newest version (never pruned) shows it. (Looking
   * for the base instead would miss a prune caught halfway, since a
   * `deleteMany` removes its range in no set order, and a base of version 1,
   * which is never deleted.)
   */
  async #stale(key: string, version: number): Promise<boolean> {
    if (version === 1) return false; // only inserted where there is no chain (1 is kept)
    return ((await this.#newest(key))?.version ?? 0) >= version + KEPT_VERSIONS;
  }

  #newest(key: string): Promise<VersionDoc<S> | null> {
    return this.#docs.find({ key }).sort({ version: -1 }).limit(1).next();
  }

  async change(key: string, update: (state: S | null) => S | null): Promise<void> {
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const newest = await this.#newest(key);
        const state = update(newest?.state ?? null);
        if (state === null) return;
        const version = (newest?.version ?? 0) + 1;
        const _id = `${key}:${version}`;
        await this.#beforeInsert?.(key, version);
        try {
          // deno-lint-ignore no-explicit-any -- the driver's OptionalId typing of a generic doc
          await this.#docs.insertOne({ _id, key, version, state } as any);
        } catch (error) {
          if (isDuplicateKey(error)) continue; // another change came first: read again
          throw error;
        }
        if (await this.#stale(key, version)) {
          // What we read was pruned meanwhile: our insert is stale (not the newest). Undo it.
          await this.#docs.deleteOne({ _id });
          continue;
        }
        if (version % 4 === 0) {
          await this.#docs.deleteMany({ key, version: { $gt: 1, $lte: version - KEPT_VERSIONS } });
        }
        return;
      }
    } catch (error) {
      throw storageError(`update ${this.#what}`, error);
    }
    throw new StorageError("storage_busy", `too many parallel changes of ${key} in ${this.#what}`, {
      retryAfterMs: 1000,
      hint: "retry in a moment",
    });
  }
}
