/**
 * Live delivery when several servers share one store: which mailbox readers
 * to wake, and when.
 *
 * With one server, a committed envelope is pushed straight to its online
 * recipients. With several, that is unsafe (another server may have just
 * committed a lower seq for the same recipient; pushing the higher one
 * first would skip it), so every delivery goes through the store instead:
 * a commit, a bus signal or a poll only wakes the recipient's mailbox
 * reader (`MailboxPump`), which reads everything after the last seq it sent,
 * in order. A lost or late signal therefore only delays an envelope.
 *
 * Wake-ups:
 * - an envelope committed on this server: its local recipients at once, and
 *   a signal on the bus for the others;
 * - a signal from the bus: that account's local sessions;
 * - the bus reconnected (signals may have been lost): every local session,
 *   and this server publishes again the signals of the envelopes it committed
 *   from shortly before the connection was lost (the client discards what it
 *   buffered meanwhile);
 * - every `pollIntervalMs`: every local session (the safety net for any
 *   other lost signal, and the only cross-server delivery without a bus).
 *
 * An account's first session on this server subscribes to its signals and,
 * once the bus has the subscription, wakes the session again: an envelope
 * committed elsewhere between the login's first mailbox read and the
 * subscription is read then.
 *
 * @module
 */
import type { ClusterHooks, OnlineUsers } from "./online.ts";
import { type Bus, type BusEvents, PING_INTERVAL_MS } from "../bus/mod.ts";

/** Default time between two polls of every local mailbox. */
export const DEFAULT_POLL_INTERVAL_MS = 10_000;

/**
 * After a reconnect, the signals published since this long before the
 * disconnect was noticed are published again: a silent connection is noticed
 * only after two unanswered pings.
 */
const REPUBLISH_MARGIN_MS = 3 * PING_INTERVAL_MS;
/** Most recent signals remembered for that; beyond it, the poll delivers. */
const MAX_REMEMBERED = 10_000;

/** How a server takes part in a group of servers that share one store. */
export interface ClusterOptions {
  /** The bus to the other servers; null: none (they then see each other's envelopes at each poll). */
  bus: Bus | null;
  /** Time between two reads of every local mailbox. */
  pollIntervalMs: number;
}

/** Wakes mailbox readers on commits, bus signals and polls. */
export class MailboxSignals implements ClusterHooks, BusEvents {
  readonly #bus: Bus | null;
  #online: OnlineUsers | null = null;
  readonly #poll: ReturnType<typeof setInterval>;
  /** When each recently signalled mailbox was last signalled (oldest first). */
  readonly #recent = new Map<string, number>();
  /** When the bus connection was lost, if it is down. */
  #downSince: number | null = null;

  constructor(options: ClusterOptions) {
    this.#bus = options.bus;
    this.#bus?.listen(this);
    this.#poll = setInterval(() => this.#online?.wakeAll(), options.pollIntervalMs);
  }

  /** The sessions to wake (set once, right after both exist). */
  attach(online: OnlineUsers): void {
    this.#online = online;
  }

  online(phone: string): void {
    this.#bus?.watch(phone).then(() => this.#online?.wake(phone), () => {});
  }

  offline(phone: string): void {
    this.#bus?.unwatch(phone);
  }

  committed(phone: string): void {
    this.#online?.wake(phone);
    if (!this.#bus) return;
    this.#bus.publish(phone);
    this.#recent.delete(phone);
    this.#recent.set(phone, Date.now());
    if (this.#recent.size > MAX_REMEMBERED) this.#recent.delete(this.#recent.keys().next().value!);
  }

  signal(phone: string): void {
    this.#online?.wake(phone);
  }

  disconnected(): void {
    this.#downSince ??= Date.now();
  }

  reconnected(): void {
    this.#online?.wakeAll();
    const since = (this.#downSince ?? Date.now()) - REPUBLISH_MARGIN_MS;
    this.#downSince = null;
    for (const [phone, at] of this.#recent) if (at >= since) this.#bus?.publish(phone);
  }

  /** Stops polling (the bus belongs to whoever made it). */
  close(): void {
    clearInterval(this.#poll);
  }
}
