/**
 * Delivers one logged-in session's mailbox in order: first everything
 * stored since the account's delivery cursor (catch-up), then new envelopes
 * live as they are committed.
 *
 * Flow control: at most DELIVERY_WINDOW envelopes may be sent and not yet
 * acknowledged; then delivery pauses until the client acks. Live pushes
 * that arrive while catching up or paused only wake the pump, which later
 * reads them from the store in order — so nothing is skipped or sent twice,
 * and a slow client cannot make either side buffer without bound.
 *
 * @module
 */
import type { Store, StoredEnvelope } from "../store/types.ts";

/** Envelopes read from the store per catch-up query. */
const PAGE = 256;

/** Most envelopes sent to one session and not yet acknowledged. */
export const DELIVERY_WINDOW = 256;

/** Sends one envelope to the client; resolves when it has been written. */
export type PushEnvelope = (item: StoredEnvelope) => Promise<void>;

/** The delivery state of one session. */
export class MailboxPump {
  readonly #store: Store;
  readonly #phone: string;
  readonly #push: PushEnvelope;
  readonly #onError: (error: unknown) => void;
  #lastSentSeq: number;
  /** Seqs sent and not yet acknowledged, ascending. */
  readonly #unacked: number[] = [];
  #live = false;
  #running = false;
  #wake = false;
  #stopped = false;

  constructor(
    store: Store,
    phone: string,
    afterSeq: number,
    push: PushEnvelope,
    onError: (error: unknown) => void,
  ) {
    this.#store = store;
    this.#phone = phone;
    this.#lastSentSeq = afterSeq;
    this.#push = push;
    this.#onError = onError;
  }

  /** Highest seq handed to the connection. */
  get lastSentSeq(): number {
    return this.#lastSentSeq;
  }

  /** Starts (or re-runs) the catch-up from the store. */
  wake(): void {
    this.#wake = true;
    if (!this.#running) this.#catchUp().catch(this.#onError);
  }

  /** Offers a just-committed envelope addressed to this session's account. */
  offer(item: StoredEnvelope): void {
    if (this.#stopped || item.seq <= this.#lastSentSeq) return;
    if (!this.#live || this.#running || this.#unacked.length >= DELIVERY_WINDOW) {
      this.#live = false;
      this.wake();
      return;
    }
    this.#send(item).catch(this.#onError);
  }

  /** The client received everything up to `seq`: frees window space. */
  ack(seq: number): void {
    while (this.#unacked.length > 0 && this.#unacked[0]! <= seq) this.#unacked.shift();
    if (!this.#live && !this.#running && this.#unacked.length < DELIVERY_WINDOW) this.wake();
  }

  /** Stops delivering (the session ended). */
  stop(): void {
    this.#stopped = true;
  }

  #send(item: StoredEnvelope): Promise<void> {
    this.#lastSentSeq = item.seq;
    this.#unacked.push(item.seq);
    return this.#push(item);
  }

  async #catchUp(): Promise<void> {
    this.#running = true;
    try {
      while (this.#wake && !this.#stopped) {
        this.#wake = false;
        for (;;) {
          const items = await this.#store.mailbox(this.#phone, this.#lastSentSeq, PAGE);
          for (const item of items) {
            if (this.#stopped) return;
            if (this.#unacked.length >= DELIVERY_WINDOW) return; // ack() wakes us again
            await this.#send(item);
          }
          if (items.length < PAGE) break;
        }
      }
      this.#live = !this.#stopped;
    } finally {
      this.#running = false;
    }
  }
}
