/**
 * Which accounts are online, and on which sessions, so committed envelopes
 * can be pushed live.
 *
 * @module
 */
import type { StoredEnvelope } from "../store/types.ts";

/** Default most sessions logged in to one account at once. */
export const DEFAULT_MAX_SESSIONS_PER_ACCOUNT = 8;

/** Something that can take a live envelope: a logged-in session. */
export interface LiveSession {
  offer(item: StoredEnvelope): void;
  /** Ends the session, telling the client why. */
  close(code: string, message: string): void;
}

/** The logged-in sessions by phone number. */
export class OnlineUsers {
  readonly #sessions = new Map<string, Set<LiveSession>>();
  readonly #maxPerAccount: number;

  /** `maxPerAccount`: most sessions of one account; each costs delivery buffers. */
  constructor(maxPerAccount = DEFAULT_MAX_SESSIONS_PER_ACCOUNT) {
    if (!Number.isSafeInteger(maxPerAccount) || maxPerAccount < 1) {
      throw new RangeError(`sessions per account must be at least 1, got ${maxPerAccount}`);
    }
    this.#maxPerAccount = maxPerAccount;
  }

  /**
   * Registers a logged-in session. Returns the sessions of the same account
   * it displaces, oldest first, when the account is at its limit: the
   * caller closes them (the newest login wins, so a device whose old
   * connection lingers is never locked out).
   */
  add(phone: string, session: LiveSession): LiveSession[] {
    let set = this.#sessions.get(phone);
    if (!set) this.#sessions.set(phone, set = new Set());
    const displaced: LiveSession[] = [];
    for (const old of set) {
      if (set.size - displaced.length < this.#maxPerAccount) break;
      displaced.push(old);
    }
    for (const old of displaced) set.delete(old);
    set.add(session);
    return displaced;
  }

  /** Forgets a session. */
  remove(phone: string, session: LiveSession): void {
    const set = this.#sessions.get(phone);
    set?.delete(session);
    if (set?.size === 0) this.#sessions.delete(phone);
  }

  /** Offers `item` to every session of `phone`. */
  deliver(phone: string, item: StoredEnvelope): void {
    for (const session of this.#sessions.get(phone) ?? []) session.offer(item);
  }

  /** Number of accounts online. */
  get size(): number {
    return this.#sessions.size;
  }
}
