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
  /** Reads the account's mailbox from the store now. */
  wake(): void;
  /** Ends the session, telling the client why. */
  close(code: string, message: string): void;
}

/**
 * Set when several servers share the store (lib/server/signals.ts): live
 * envelopes are then never pushed directly; each commit only wakes readers.
 */
export interface ClusterHooks {
  /** `phone`'s first session on this server logged in. */
  online(phone: string): void;
  /** `phone`'s last session on this server left. */
  offline(phone: string): void;
  /** An envelope for `phone` was committed on this server. */
  committed(phone: string): void;
}

/** The logged-in sessions by phone number. */
export class OnlineUsers {
  readonly #sessions = new Map<string, Set<LiveSession>>();
  readonly #maxPerAccount: number;
  readonly #cluster: ClusterHooks | null;

  /**
   * `maxPerAccount`: most sessions of one account; each costs delivery
   * buffers. `cluster`: set when other servers share the store.
   */
  constructor(
    maxPerAccount = DEFAULT_MAX_SESSIONS_PER_ACCOUNT,
    cluster: ClusterHooks | null = null,
  ) {
    if (!Number.isSafeInteger(maxPerAccount) || maxPerAccount < 1) {
      throw new RangeError(`sessions per account must be at least 1, got ${maxPerAccount}`);
    }
    this.#maxPerAccount = maxPerAccount;
    this.#cluster = cluster;
  }

  /**
   * Registers a logged-in session. Returns the sessions of the same account
   * it displaces, oldest first, when the account is at its limit: the
   * caller closes them (the newest login wins, so a device whose old
   * connection lingers is never locked out).
   */
  add(phone: string, session: LiveSession): LiveSession[] {
    let set = this.#sessions.get(phone);
    if (!set) {
      this.#sessions.set(phone, set = new Set());
      this.#cluster?.online(phone);
    }
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
    if (!set?.delete(session) || set.size > 0) return;
    this.#sessions.delete(phone);
    this.#cluster?.offline(phone);
  }

  /** Offers `item` to every session of `phone` (with a cluster: tells it, which wakes them). */
  deliver(phone: string, item: StoredEnvelope): void {
    if (this.#cluster) return this.#cluster.committed(phone);
    for (const session of this.#sessions.get(phone) ?? []) session.offer(item);
  }

  /** Wakes every session of `phone`: each reads its mailbox. */
  wake(phone: string): void {
    for (const session of this.#sessions.get(phone) ?? []) session.wake();
  }

  /** Wakes every session. */
  wakeAll(): void {
    for (const set of this.#sessions.values()) for (const session of set) session.wake();
  }

  /** Number of accounts online. */
  get size(): number {
    return this.#sessions.size;
  }
}
