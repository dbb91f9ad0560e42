/**
 * Delivers one logged-in session's mailbox in order: first everything
 * stored since the account's delivery cursor (catch-up), then new envelopes
 * live as they are committed.
 *
 * Flow control: at most DELIVERY_WINDOW envelopes may be sent and not yet
 * acknowledged, and the connection may hold only so many bytes not yet
 * written (the session's `Flow`); past either, delivery pauses until the
 * client acks or reads. Live pushes that arrive while catching up or paused
 * only wake the pump, which later reads them from the store in order — so
 * nothing is skipped or sent twice, and a slow client cannot make either
 * side buffer without bound. A client that reads nothing for the flow's
 * write timeout is dropped (`onError` with a `slow_reader` error); its
 * envelopes wait in the store for its next login.
 *
 * @module
 */
import { SspError } from "../errors.ts";
import type { Store, StoredEnvelope } from "../store/types.ts";

/**
 * Envelopes read from the store per catch-up query. A page is held until it
 * is written or the connection congests, so it bounds a session's memory
 * too (64 envelopes of at most 256 KiB by default).
 */
const PAGE = 64;

/** How full the connection is: deliveries pause while it is congested. */
export interface Flow {
  /** True while the connection holds more unwritten bytes than it should. */
  congested(): boolean;
  /** Waits until the connection has written what it holds; false if the write timeout passed. */
  drain(): Promise<boolean>;
}

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
  readonly #flow: Flow;
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
    flow: Flow,
  ) {
    this.#store = store;
    this.#phone = phone;
    this.#lastSentSeq = afterSeq;
    this.#push = push;
    this.#onError = onError;
    this.#flow = flow;
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
    if (
      !this.#live || this.#running || this.#unacked.length >= DELIVERY_WINDOW ||
      this.#flow.congested()
    ) {
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
          let sent = 0;
          for (const item of items) {
            if (this.#stopped) return;
            if (this.#unacked.length >= DELIVERY_WINDOW) return; // ack() wakes us again
            if (this.#flow.congested()) break; // drop the page while waiting; read it again after
            this.#send(item).catch(this.#onError);
            sent++;
          }
          if (sent < items.length) {
            if (!await this.#flow.drain()) throw slowReader();
            continue;
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

function slowReader(): SspError {
  return new SspError(
    "slow_reader",
    "the connection read nothing for too long while deliveries waited; reconnect to receive them",
  );
}
