/**
 * Requests and replies over a secure channel: each request gets an id, its
 * reply (or `error`) is matched by that id, and pushed envelopes go to a
 * handler. One reader loop per connection.
 *
 * @module
 */
import type { SecureChannel } from "../channel/mod.ts";
import { ProtocolError, SspError } from "../errors.ts";
import {
  type ClientMessage,
  decodeServerMessage,
  type Deliver,
  type FileData,
  type FileFailed,
  type ServerReply,
} from "../protocol/mod.ts";

/** How often an otherwise idle connection pings the server. */
export const KEEPALIVE_MS = 60_000;

/** A request without its id (the connection assigns it). */
export type Request = ClientMessage extends infer M
  ? M extends { id: number } ? Omit<M, "id"> : never
  : never;

/** The reply type for each request type. */
export interface ReplyOf {
  ping: "pong";
  prelogin: "prelogin_ok";
  register: "ok";
  login: "login_ok";
  change_password: "ok";
  get_keys: "keys";
  send: "sent";
  history: "history_page";
  file_begin: "file_ready";
  file_end: "file_done";
  file_share: "ok";
  file_delete: "ok";
  file_get: "file_info";
  file_list: "files";
}

/** A server error reply, as an exception. */
export class ServerError extends SspError {}

/** A connection that matches replies to requests. */
export class RpcConnection {
  readonly channel: SecureChannel;
  readonly #pending = new Map<number, (reply: ServerReply | Error) => void>();
  #nextId = 1;
  #closedWith: Error | null = null;
  #lastNotice: string | null = null;
  #onDeliver: ((message: Deliver) => Promise<void> | void) | null = null;
  /** Handlers of file pushes, by file id. */
  readonly #fileHandlers = new Map<
    string,
    (message: FileData | FileFailed) => Promise<void> | void
  >();
  /** Deliveries are handled one after another, apart from the read loop (see #readLoop). */
  #deliveries: Promise<void> = Promise.resolve();
  #handlerSet!: () => void;
  readonly #handlerReady = new Promise<void>((resolve) => this.#handlerSet = resolve);
  /** Resolves when the connection has closed (the reason, if any). */
  readonly closed: Promise<Error | null>;

  constructor(channel: SecureChannel) {
    this.channel = channel;
    // Keep the connection alive past the server's idle timeout, without keeping the process alive.
    const keepalive = setInterval(() => {
      this.request({ t: "ping" }).catch(() => {});
    }, KEEPALIVE_MS);
    Deno.unrefTimer(keepalive);
    this.closed = this.#readLoop().finally(() => clearInterval(keepalive));
  }

  /**
   * Sets the handler of pushed envelopes, called one at a time in order.
   * Envelopes that arrive before a handler is set wait for it, so none is
   * lost after login.
   */
  set onDeliver(handler: (message: Deliver) => Promise<void> | void) {
    this.#onDeliver = handler;
    this.#handlerSet();
  }

  /** The last error the server reported for a message without a reply, if any. */
  get lastNotice(): string | null {
    return this.#lastNotice;
  }

  /** Sends `request` and resolves with its reply; rejects with ServerError for an error reply. */
  request<T extends keyof ReplyOf>(
    request: Extract<Request, { t: T }>,
  ): Promise<Extract<ServerReply, { t: ReplyOf[T] }>> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (reply) => {
        if (reply instanceof Error) return reject(reply);
        if (reply.t === "error") {
          return reject(
            new ServerError(reply.code, reply.message, {
              ...(reply.retryAfterMs !== undefined ? { retryAfterMs: reply.retryAfterMs } : {}),
              ...(reply.hint !== undefined ? { hint: reply.hint } : {}),
            }),
          );
        }
        resolve(reply as Extract<ServerReply, { t: ReplyOf[T] }>);
      });
      this.channel.sendMessage({ ...request, id } as ClientMessage).catch((error) => {
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  /**
   * Routes `file_data` and `file_failed` pushes for `fileId` to `handler`,
   * which is awaited before the connection reads on (so a slow disk slows
   * the sender down instead of filling memory). Returns the unsubscribe.
   */
  onFile(
    fileId: string,
    handler: (message: FileData | FileFailed) => Promise<void> | void,
  ): () => void {
    this.#fileHandlers.set(fileId, handler);
    return () => this.#fileHandlers.delete(fileId);
  }

  /** Sends a message that has no reply (e.g. `ack`). */
  notify(message: ClientMessage): Promise<void> {
    return this.channel.sendMessage(message);
  }

  /**
   * Sends a message that has no reply and whose field `field` holds the bytes
   * `parts` joined, without copying them (see `SecureChannel.sendMessageWithBytes`).
   */
  notifyWithBytes<T extends ClientMessage, F extends keyof T & string>(
    message: Omit<T, F> & { readonly t: T["t"] },
    field: F,
    parts: readonly Uint8Array[],
  ): Promise<void> {
    return this.channel.sendMessageWithBytes(message, field, parts);
  }

  /** Closes the connection; pending requests fail. */
  close(): void {
    this.channel.close();
  }

  async #readLoop(): Promise<Error | null> {
    let reason: Error | null = null;
    try {
      for (;;) {
        const body = await this.channel.receive();
        if (body === null) break;
        const message = decodeServerMessage(body);
        if (message.t === "deliver") {
          // Not awaited: a handler may itself make requests (e.g. fetch the
          // sender's key), whose replies this loop must keep reading. The
          // server's delivery window bounds how many can queue here.
          this.#deliveries = this.#deliveries
            .then(() => this.#handlerReady)
            .then(() => this.#onDeliver!(message))
            .catch(() => this.close());
        } else if (message.t === "file_data" || message.t === "file_failed") {
          await this.#fileHandlers.get(message.fileId)?.(message);
        } else if (message.t === "error" && message.id === 0) {
          // A failure of a message that has no reply of its own (e.g. `ack`).
          this.#lastNotice = message.message;
        } else if (message.t === "alert") {
          reason = new ProtocolError(
            `server_${message.code}`,
            `server closed the connection: ${message.message}`,
          );
          break;
        } else {
          const settle = this.#pending.get(message.id);
          if (!settle) {
            throw new ProtocolError("unexpected_reply", `reply to unknown request ${message.id}`);
          }
          this.#pending.delete(message.id);
          settle(message);
        }
      }
    } catch (error) {
      reason = error instanceof Error ? error : new Error(String(error));
    } finally {
      this.channel.close();
    }
    this.#closedWith = reason ??
      new ProtocolError("connection_closed", "the server closed the connection");
    for (const settle of this.#pending.values()) settle(this.#closedWith);
    this.#pending.clear();
    return reason;
  }
}
