/**
 * Which accounts are online, and on which sessions, so committed envelopes
 * can be pushed live.
 *
 * @module
 */
import type { StoredEnvelope } from "../store/types.ts";

/** Something that can take a live envelope: a logged-in session. */
export interface LiveSession {
  offer(item: StoredEnvelope): void;
}

/** The logged-in sessions by phone number. */
export class OnlineUsers {
  readonly #sessions = new Map<string, Set<LiveSession>>();

  /** Registers a logged-in session. */
  add(phone: string, session: LiveSession): void {
    let set = this.#sessions.get(phone);
    if (!set) this.#sessions.set(phone, set = new Set());
    set.add(session);
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
