/**
 * Closes sessions that send nothing for too long. One timer sweeps every
 * session waiting for a request, instead of a timer per connection armed and
 * cleared around every request: an idle connection costs an entry in a map,
 * and a busy one a map update per request.
 *
 * @module
 */

/** Longest time between sweeps: a session is closed at most this late. */
export const MAX_SWEEP_INTERVAL_MS = 1000;

/** Something the sweep can close. */
export interface IdleSession {
  /** Called once when the session has waited `timeoutMs` for a request. */
  idleTimedOut(): void;
}

/**
 * The sessions waiting for a request and since when. A session waiting
 * `timeoutMs` is closed by the next sweep, so between `timeoutMs` and
 * `timeoutMs` + the sweep interval (a quarter of the timeout, at most
 * MAX_SWEEP_INTERVAL_MS) after it began to wait.
 */
export class IdleSweep {
  readonly timeoutMs: number;
  readonly #now: () => number;
  /**
   * Waiting sessions in the order they began to wait (a Map keeps insertion
   * order, and `wait` re-inserts), so the oldest come first.
   */
  readonly #waiting = new Map<IdleSession, number>();
  readonly #timer: ReturnType<typeof setInterval> | null;

  /** `now` is the clock; `autoSweep: false` leaves sweeping to the caller (tests). */
  constructor(timeoutMs: number, options: { now?: () => number; autoSweep?: boolean } = {}) {
    this.timeoutMs = timeoutMs;
    this.#now = options.now ?? (() => performance.now());
    const interval = Math.max(1, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(timeoutMs / 4)));
    this.#timer = options.autoSweep === false ? null : setInterval(() => this.sweep(), interval);
  }

  /** `session` now waits for a request. */
  wait(session: IdleSession): void {
    this.#waiting.delete(session);
    this.#waiting.set(session, this.#now());
  }

  /** `session` got a request, or ended: it is not waiting. */
  done(session: IdleSession): void {
    this.#waiting.delete(session);
  }

  /** Sessions waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Closes every session that has waited `timeoutMs` or longer. */
  sweep(): void {
    const cutoff = this.#now() - this.timeoutMs;
    for (const [session, since] of this.#waiting) {
      if (since > cutoff) break; // the rest began to wait later
      this.#waiting.delete(session);
      session.idleTimedOut();
    }
  }

  /** Stops sweeping. */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#waiting.clear();
  }
}
