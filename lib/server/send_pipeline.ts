/**
 * One session's sends, pipelined: each is checked and handed to the store in
 * arrival order, but its commit is awaited apart, so the session reads the
 * next request at once and one client's burst shares group commits. The
 * `sent` reply (or the error) goes out when the commit is known.
 *
 * @module
 */
import { SspError } from "../errors.ts";
import type { Send, ServerMessage } from "../protocol/mod.ts";
import type { AppendResult } from "../store/types.ts";
import { checkEnvelope, storeAndDeliver } from "./relay.ts";
import type { SessionContext } from "./session.ts";

/** Sends one session may have waiting for their commit; the next waits for a slot. */
export const MAX_SENDS_IN_FLIGHT = 1024;

/** What the pipeline needs of its session. */
export interface SendSession {
  /** The sender; throws `not_logged_in` before login. */
  phone(): string;
  reply(message: ServerMessage): Promise<void>;
  replyError(id: number, error: unknown): Promise<void>;
}

/** Checks sends and submits them to the store in arrival order (see the module doc). */
export class SendPipeline {
  readonly #context: SessionContext;
  readonly #session: SendSession;
  #queue: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  #slotFreed: (() => void) | null = null;

  constructor(context: SessionContext, session: SendSession) {
    this.#context = context;
    this.#session = session;
  }

  /** Queues `message`; resolves once it is queued (after waiting for a slot if all are taken). */
  async start(message: Send): Promise<void> {
    while (this.#inFlight >= MAX_SENDS_IN_FLIGHT) {
      await new Promise<void>((resolve) => this.#slotFreed = resolve);
    }
    this.#inFlight++;
    this.#context.sendsInFlight++;
    const submitted = this.#queue.then(() => this.#submit(message));
    this.#queue = submitted.catch(() => {});
    submitted
      .then(({ committed }) => committed)
      .then(async (result) => {
        await this.#session.reply({
          t: "sent",
          id: message.id,
          seq: result.seq,
          duplicate: result.duplicate,
        });
      })
      .catch((error) => this.#session.replyError(message.id, error))
      .finally(() => {
        this.#inFlight--;
        this.#context.sendsInFlight--;
        this.#slotFreed?.();
        this.#slotFreed = null;
      });
  }

  /** Validates a send; returns the pending commit wrapped so `then` does not wait for it. */
  async #submit(message: Send): Promise<{ committed: Promise<AppendResult> }> {
    const phone = this.#session.phone();
    const wait = this.#context.sendRate.take(phone);
    if (wait > 0) {
      throw new SspError(
        "rate_limited",
        `sending too fast for this server; retry in ${Math.ceil(wait / 1000)} s`,
        {
          retryAfterMs: wait,
          hint: "wait, then send again: this server accepts a limited number of messages a " +
            "minute per account (its --send-rate)",
        },
      );
    }
    const envelope = await checkEnvelope(
      this.#context,
      phone,
      message.messageId,
      message.to,
      message.envelope,
    );
    return { committed: storeAndDeliver(this.#context, envelope) };
  }
}
