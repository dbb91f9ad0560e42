/**
 * The login back-offs shared by every server on one database (`--mongo`;
 * docs/security.md), so that N servers do not give a guesser N allowances:
 * each number's budget, each address's back-off and each number's
 * known-device back-off. Each key's state lives in a {@linkcode StateChain}
 * (a chain of versions changed by compare-and-set, lib/store/mongo_chain.ts),
 * and every reserve, settle and release applies the same pure transitions as
 * the in-memory `Throttle` to the newest state: parallel attempts through any
 * number of servers get exactly the allowance one server gives. Known
 * devices use `peek` and `record` instead (no reservation, so a successful
 * login costs one read): a burst through S servers then gets at most S times
 * one server's allowance before its failures are written (docs/security.md).
 *
 * A reservation carries an expiry (`RESERVATION_MS`) so that a server killed
 * between reserve and settle does not hold the number's allowance for ever;
 * a check taking longer than that (the store's reply timeout is 10 s) would
 * let one more attempt through.
 *
 * @module
 */
import type { StateChain } from "../store/types.ts";
import {
  ADDRESS_POLICY,
  DEVICE_POLICY,
  forgetIfQuiet,
  NUMBER_POLICY,
  reserveAttempt,
  settleAttempt,
  type SharedThrottle,
  type ThrottlePolicy,
  type ThrottleState,
} from "./throttle.ts";

/** How long a reservation counts without being settled (a server died mid-check). */
export const RESERVATION_MS = 60_000;

/** One number's back-off as stored. */
export interface StoredThrottleState {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
  /** Attempts in flight, each until it is settled or `until` passes. */
  reservations: { id: string; until: number }[];
}

/** The shared back-offs of logins (AccountLimits.shared). */
export interface SharedLoginThrottles {
  /** Each number's budget (NUMBER_POLICY), keyed by the number. */
  numbers: SharedThrottle;
  /** Each address's back-off (ADDRESS_POLICY), keyed `addr:<address>`. */
  addresses: SharedThrottle;
  /** Each number's known devices (DEVICE_POLICY), keyed `dev:<number>:<token epoch>`. */
  devices: SharedThrottle;
}

/** The three shared login back-offs, all in `chain` (the collection `login_throttle`). */
export function sharedLoginThrottles(
  chain: StateChain<StoredThrottleState>,
  now: () => number = Date.now,
): SharedLoginThrottles {
  return {
    numbers: new ChainThrottle(chain, NUMBER_POLICY, now),
    addresses: new ChainThrottle(chain, ADDRESS_POLICY, now, "addr:"),
    devices: new ChainThrottle(chain, DEVICE_POLICY, now, "dev:"),
  };
}

/** A {@linkcode SharedThrottle} over a {@linkcode StateChain}. */
export class ChainThrottle implements SharedThrottle {
  readonly #chain: StateChain<StoredThrottleState>;
  readonly #policy: ThrottlePolicy;
  readonly #now: () => number;
  readonly #prefix: string;

  /** @param prefix put before every key in the chain (keeps kinds of keys apart) */
  constructor(
    chain: StateChain<StoredThrottleState>,
    policy: ThrottlePolicy,
    now: () => number = Date.now,
    prefix = "",
  ) {
    this.#chain = chain;
    this.#policy = policy;
    this.#now = now;
    this.#prefix = prefix;
  }

  async peek(key: string): Promise<{ wait: number; failures: number }> {
    const state = stateOf(await this.#chain.read(this.#prefix + key), this.#now());
    forgetIfQuiet(state, this.#policy, this.#now());
    return { wait: Math.max(0, state.blockedUntil - this.#now()), failures: state.failures };
  }

  async record(key: string, failed: boolean): Promise<void> {
    await this.#change(key, (state, reservations, now) => {
      forgetIfQuiet(state, this.#policy, now);
      const clears = this.#policy.clearOnSuccess && (state.failures > 0 || state.blockedUntil > 0);
      if (!failed && !clears) return null; // nothing to write
      state.pending++; // as if reserved: settleAttempt takes it back
      settleAttempt(state, failed, this.#policy, now);
      return reservations;
    });
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
   * Applies `update` to the newest state of `key`: it gets the state with the
   * unexpired reservations counted as pending, and returns the reservations
   * to keep, or null for no change.
   */
  #change(
    key: string,
    update: (
      state: ThrottleState,
      reservations: StoredThrottleState["reservations"],
      now: number,
    ) => StoredThrottleState["reservations"] | null,
  ): Promise<void> {
    return this.#chain.change(this.#prefix + key, (stored) => {
      const now = this.#now();
      const live = (stored?.reservations ?? []).filter((r) => r.until > now);
      const state = stateOf(stored, now);
      const reservations = update(state, live, now);
      if (reservations === null) return null;
      return {
        failures: state.failures,
        lastFailureAt: state.lastFailureAt,
        blockedUntil: state.blockedUntil,
        reservations,
      };
    });
  }
}

/** The state `stored` stands for at `now`: its unexpired reservations counted as pending. */
function stateOf(stored: StoredThrottleState | null, now: number): ThrottleState {
  return {
    failures: stored?.failures ?? 0,
    lastFailureAt: stored?.lastFailureAt ?? 0,
    blockedUntil: stored?.blockedUntil ?? 0,
    pending: (stored?.reservations ?? []).filter((r) => r.until > now).length,
  };
}

/**
 * Reserves an attempt under every `[throttle, key]` at once, or none: the
 * granted ids in order, else the reservations made are given back and the
 * longest wait is returned (or the first store error thrown).
 */
export async function reserveEach(
  keys: [SharedThrottle, string][],
): Promise<{ wait: number; ids: string[] }> {
  const results = await Promise.allSettled(keys.map(([throttle, key]) => throttle.reserve(key)));
  let wait = 0;
  let error: unknown = null;
  for (const result of results) {
    if (result.status === "rejected") error ??= result.reason;
    else wait = Math.max(wait, result.value.wait);
  }
  const ids = results.map((r) => r.status === "fulfilled" ? r.value.id : "");
  if (wait === 0 && error === null) return { wait: 0, ids };
  await Promise.all(
    keys.map(([throttle, key], i) => ids[i] ? throttle.release(key, ids[i]!) : undefined),
  ).catch(() => {}); // a store failure leaves the reservation to expire (RESERVATION_MS)
  if (error !== null) throw error;
  return { wait, ids: [] };
}
