/**
 * The per-account message quota (docs/protocol.md §7.5): the bytes of
 * envelopes an account has stored (messages and file announcements; the
 * server keeps history, so they stay stored) may not exceed a limit.
 *
 * Each account's usage is read from the store once, then kept in memory and
 * moved by reservations: a send reserves its bytes synchronously before it
 * is stored and gives them back if nothing was written (a failure or a
 * duplicate), so parallel sends cannot overrun the quota together. An
 * account with nothing in flight may be forgotten (its usage is read again
 * when needed), which bounds the memory.
 *
 * When servers share the store, one server's memory does not see the
 * others' sends. Then the usage lives in the database instead, as a chain of
 * versions per account (`MessageUsage`, a {@linkcode StateChain}): a
 * reservation reads the newest version and inserts the next with the bytes
 * added, and of parallel reservations on different servers the unique
 * version admits one, the others read again. The chain starts from the
 * store's count of the account's stored bytes. So the quota is exact across
 * servers. To keep it to one database change per burst rather than per
 * message, each server queues an account's reservations (and the bytes
 * given back) while one change is in flight, and applies them together in
 * the next, in order: each reservation is admitted if it still fits.
 *
 * @module
 */
import { SspError } from "../errors.ts";
import type { StateChain, Store } from "../store/types.ts";
import { KeyBatches } from "./key_batches.ts";

/** Default message storage per account: 1 GiB. */
export const DEFAULT_MESSAGE_QUOTA_BYTES = 2 ** 30;

/** Accounts whose usage is kept in memory at most (idle ones are forgotten first). */
const MAX_ACCOUNTS = 100_000;

interface Usage {
  bytes: number;
  inFlight: number;
}

/** Settles a reservation: `stored` keeps the bytes counted, else they are given back. */
export type SettleReservation = (stored: boolean) => void;

/** One version of an account's usage in a shared store: its stored and reserved bytes. */
export type MessageUsage = { used: number };

/** Message storage per account, enforced before each store. */
export class MessageQuota {
  readonly #store: Store;
  readonly #quotaBytes: number;
  readonly #usage = new Map<string, Usage>();
  readonly #loading = new Map<string, Promise<Usage>>();
  readonly #shared: StateChain<MessageUsage> | null;
  /**
   * Shared mode: reservations (bytes > 0) and bytes given back (< 0), one
   * change of an account's usage at a time; each outcome is null (applied)
   * or the bytes in use that refused it.
   */
  readonly #changes = new KeyBatches<number, number | null>((phone, bytes) =>
    this.#apply(phone, bytes)
  );

  /**
   * @param shared Set when other servers share `store`: each account's
   * usage, kept in the database (see the module doc).
   */
  constructor(store: Store, quotaBytes: number, shared: StateChain<MessageUsage> | null = null) {
    this.#store = store;
    this.#quotaBytes = quotaBytes;
    this.#shared = shared;
  }

  /**
   * Reserves `bytes` of `phone`'s quota; throws SspError
   * "over_message_quota" if they do not fit.
   */
  async reserve(phone: string, bytes: number): Promise<SettleReservation> {
    if (this.#shared) {
      const refusedAt = await this.#changes.submit(phone, bytes);
      if (refusedAt !== null) throw this.#overQuota(refusedAt, bytes);
      // A give-back that fails leaves the bytes counted (see docs/scaling.md).
      return (stored) => {
        if (!stored) this.#changes.submit(phone, -bytes).catch(() => {});
      };
    }
    const usage = this.#usage.get(phone) ?? await this.#load(phone);
    // From here on synchronous: check and count in one step.
    if (usage.bytes + bytes > this.#quotaBytes) throw this.#overQuota(usage.bytes, bytes);
    usage.bytes += bytes;
    usage.inFlight++;
    return (stored) => {
      usage.inFlight--;
      if (!stored) usage.bytes -= bytes;
    };
  }

  #overQuota(used: number, bytes: number): SspError {
    return new SspError(
      "over_message_quota",
      `this account's stored messages would exceed the server's limit of ${this.#quotaBytes} ` +
        `bytes (${used} used, this message ${bytes})`,
      { hint: "the server keeps every message; ask its operator to raise --message-quota-bytes" },
    );
  }

  /** One compare-and-set on the chain: admits what fits, in order; each one's outcome. */
  async #apply(phone: string, batch: number[]): Promise<(number | null)[]> {
    const chain = this.#shared!;
    /** The store's count, read only if the account has no chain yet. */
    let start: number | null = null;
    for (;;) {
      let missing = false;
      let outcomes: (number | null)[] = [];
      // The update may run several times (once per round): decide afresh each time.
      await chain.change(phone, (state) => {
        missing = state === null && start === null;
        if (missing) return null;
        const before = state?.used ?? start!;
        let used = before;
        outcomes = batch.map((bytes) => {
          if (bytes > 0 && used + bytes > this.#quotaBytes) return used;
          used = Math.max(0, used + bytes);
          return null;
        });
        return used === before && state !== null ? null : { used };
      });
      if (!missing) return outcomes;
      start = await this.#store.storedMessageBytes(phone);
    }
  }

  async #load(phone: string): Promise<Usage> {
    let loading = this.#loading.get(phone);
    if (!loading) {
      loading = this.#store.storedMessageBytes(phone).then((bytes) => {
        const usage = { bytes, inFlight: 0 };
        this.#forgetIdle();
        this.#usage.set(phone, usage);
        return usage;
      }).finally(() => this.#loading.delete(phone));
      this.#loading.set(phone, loading);
    }
    return await loading;
  }

  /** Keeps the table bounded: forgets idle accounts, oldest loaded first. */
  #forgetIdle(): void {
    if (this.#usage.size < MAX_ACCOUNTS) return;
    for (const [phone, usage] of this.#usage) {
      if (usage.inFlight === 0) {
        this.#usage.delete(phone);
        if (this.#usage.size < MAX_ACCOUNTS) return;
      }
    }
  }
}
