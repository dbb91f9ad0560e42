/**
 * The per-number login back-off shared by every server on one database
 * (`--mongo`; docs/security.md), so that N servers do not give a guesser N
 * budgets. Each number's state lives in a {@linkcode StateChain} (a chain of
 * versions changed by compare-and-set, lib/store/mongo_chain.ts), and every
 * reserve, settle and release applies the same pure transitions as the
 * in-memory `Throttle` to the newest state: parallel attempts
 * through any number of servers get exactly the allowance one server gives.
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

/** A {@linkcode SharedThrottle} over a {@linkcode StateChain}. */
export class ChainThrottle implements SharedThrottle {
  readonly #chain: StateChain<StoredThrottleState>;
  readonly #policy: ThrottlePolicy;
  readonly #now: () => number;

  constructor(
    chain: StateChain<StoredThrottleState>,
    policy: ThrottlePolicy,
    now: () => number = Date.now,
  ) {
    this.#chain = chain;
    this.#policy = policy;
    this.#now = now;
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
    return this.#chain.change(key, (stored) => {
      const now = this.#now();
      const live = (stored?.reservations ?? []).filter((r) => r.until > now);
      const state: ThrottleState = {
        failures: stored?.failures ?? 0,
        lastFailureAt: stored?.lastFailureAt ?? 0,
        blockedUntil: stored?.blockedUntil ?? 0,
        pending: live.length,
      };
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
