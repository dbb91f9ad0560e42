/**
 * Rations the server's finite-field Diffie-Hellman work.
 *
 * One ffdhe4096 handshake costs the server's single thread about 100 ms of
 * modular exponentiation, and a `client_hello` costs its sender nothing, so
 * unrationed finite-field groups let anyone stall every connection. X25519
 * (well under a millisecond) is never rationed. Finite-field handshakes draw
 * on two token buckets of CPU milliseconds, one per client address and one
 * for the whole server; one starts only while both have a positive balance,
 * and its estimated cost is charged at once. Over any period the server
 * then spends at most about `msPerSecond` of each second on finite-field
 * work (plus one second's burst), and one address at most `msPerAddress`.
 * A client that also offers X25519 gets X25519 when the budget is spent;
 * one that offers only finite-field groups is refused with `server_busy`.
 *
 * @module
 */
import type { DhGroup } from "../crypto/mod.ts";
import { generateKeyPair } from "../crypto/mod.ts";
import { addressKey } from "./slots.ts";

/** Default CPU milliseconds per second all clients together may spend on finite-field DH. */
export const DEFAULT_FFDH_MS_PER_SECOND = 300;

/** Default CPU milliseconds per second one client address may spend on finite-field DH. */
export const DEFAULT_FFDH_MS_PER_ADDRESS = 100;

/** Most addresses with a bucket; past it, refilled buckets (then the oldest) are forgotten. */
const MAX_ADDRESSES = 10_000;

/**
 * A bucket of milliseconds refilled at `ratePerSecond` up to one second's
 * worth. Work may start while the balance is positive and may leave it in
 * debt, so the long-run rate holds whatever one piece of work costs.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #now: () => number;
  #balance: number;
  #updated: number;

  constructor(ratePerSecond: number, now: () => number = Date.now) {
    this.#rate = ratePerSecond;
    this.#now = now;
    this.#balance = ratePerSecond;
    this.#updated = now();
  }

  /** The balance now, after refilling. */
  get balance(): number {
    const now = this.#now();
    this.#balance = Math.min(this.#rate, this.#balance + (now - this.#updated) * this.#rate / 1000);
    this.#updated = now;
    return this.#balance;
  }

  /** Takes `amount` (the balance may go negative). */
  take(amount: number): void {
    this.#balance = this.balance - amount;
  }
}

/** Settings of a FiniteFieldBudget. */
export interface FiniteFieldBudgetOptions {
  /** CPU ms per second for all clients together; 0 admits no finite-field handshake. */
  msPerSecond: number;
  /** CPU ms per second for one address. */
  msPerAddress: number;
  /** Estimated server CPU ms of one handshake in `group` (default: measured once per group). */
  costMs?: (group: DhGroup) => number;
  /** Clock, for tests. */
  now?: () => number;
}

/** The server's finite-field DH rations. */
export class FiniteFieldBudget {
  readonly #total: TokenBucket;
  readonly #perAddress = new Map<string, TokenBucket>();
  readonly #msPerAddress: number;
  readonly #costMs: (group: DhGroup) => number;
  readonly #now: () => number;

  constructor(options: FiniteFieldBudgetOptions) {
    for (const name of ["msPerSecond", "msPerAddress"] as const) {
      const value = options[name];
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(`${name} must be a number of milliseconds ≥ 0, got ${value}`);
      }
    }
    this.#now = options.now ?? Date.now;
    this.#total = new TokenBucket(options.msPerSecond, this.#now);
    this.#msPerAddress = options.msPerAddress;
    this.#costMs = options.costMs ?? measuredCost;
  }

  /**
   * Whether a handshake in `group` from `address` may run now; if so its
   * cost is charged. X25519 is always admitted and never charged.
   */
  admit(address: string, group: DhGroup): boolean {
    if (group.name === "x25519") return true;
    const key = addressKey(address);
    let own = this.#perAddress.get(key);
    if (!own) {
      this.#forgetIfFull();
      this.#perAddress.set(key, own = new TokenBucket(this.#msPerAddress, this.#now));
    }
    if (own.balance <= 0 || this.#total.balance <= 0) return false;
    const cost = this.#costMs(group);
    own.take(cost);
    this.#total.take(cost);
    return true;
  }

  /** Addresses with a bucket (bounded by MAX_ADDRESSES). */
  get addresses(): number {
    return this.#perAddress.size;
  }

  /**
   * Keeps the table bounded. A refilled bucket is the same as a new one, so
   * forgetting it loses nothing; forgetting one in debt (only when every
   * bucket is) lets that address start again, but never past the total.
   */
  #forgetIfFull(): void {
    if (this.#perAddress.size < MAX_ADDRESSES) return;
    for (const [key, bucket] of this.#perAddress) {
      if (bucket.balance >= this.#msPerAddress) this.#perAddress.delete(key);
    }
    while (this.#perAddress.size >= MAX_ADDRESSES) {
      this.#perAddress.delete(this.#perAddress.keys().next().value!);
    }
  }
}

/** Measured cost per group: the exponentiations of one handshake, timed once. */
const measured = new WeakMap<DhGroup, number>();

/**
 * A finite-field handshake costs the server one exponentiation for its key
 * pair and one for the shared secret (a custom group one more, to check the
 * client's value is in the prime-order subgroup). Key generation runs
 * synchronously, so timing it measures the CPU of one exponentiation.
 */
function measuredCost(group: DhGroup): number {
  let cost = measured.get(group);
  if (cost === undefined) {
    const start = performance.now();
    generateKeyPair(group).catch(() => {});
    const one = performance.now() - start;
    cost = one * (group.name === "custom" ? 3 : 2);
    measured.set(group, cost);
  }
  return cost;
}
