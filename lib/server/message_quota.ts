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
 * @module
 */
import { SspError } from "../errors.ts";
import type { Store } from "../store/types.ts";

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

/** Message storage per account, enforced before each store. */
export class MessageQuota {
  readonly #store: Store;
  readonly #quotaBytes: number;
  readonly #usage = new Map<string, Usage>();
  readonly #loading = new Map<string, Promise<Usage>>();

  constructor(store: Store, quotaBytes: number) {
    this.#store = store;
    this.#quotaBytes = quotaBytes;
  }

  /**
   * Reserves `bytes` of `phone`'s quota; throws SspError
   * "over_message_quota" if they do not fit.
   */
  async reserve(phone: string, bytes: number): Promise<SettleReservation> {
    const usage = this.#usage.get(phone) ?? await this.#load(phone);
    // From here on synchronous: check and count in one step.
    if (usage.bytes + bytes > this.#quotaBytes) {
      throw new SspError(
        "over_message_quota",
        `this account's stored messages would exceed the server's limit of ${this.#quotaBytes} ` +
          `bytes (${usage.bytes} used, this message ${bytes})`,
        { hint: "the server keeps every message; ask its operator to raise --message-quota-bytes" },
      );
    }
    usage.bytes += bytes;
    usage.inFlight++;
    return (stored) => {
      usage.inFlight--;
      if (!stored) usage.bytes -= bytes;
    };
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
