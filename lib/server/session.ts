/**
 * One client's session after the handshake: reads requests, answers each
 * (an `error` reply keeps the connection open), and once logged in receives
 * its mailbox through a MailboxPump.
 *
 * Sends are pipelined (see SendPipeline): the session does not wait for a
 * commit before reading the next request.
 *
 * @module
 */
import type { SecureChannel } from "../channel/mod.ts";
import { AuthError, FrameError, ProtocolError, SspError, StorageError } from "../errors.ts";
import {
  type ClientMessage,
  decodeClientMessage,
  type FileChunk,
  type History,
  type Send,
  type ServerMessage,
} from "../protocol/mod.ts";
import type { Store, StoredEnvelope } from "../store/types.ts";
import { conversationKey } from "./relay.ts";
import { SendPipeline } from "./send_pipeline.ts";
import { type FileContext, FileTransfers } from "./files.ts";
import type { Accounts } from "./accounts.ts";
import type { Logger } from "./log.ts";
import { type Flow, MailboxPump } from "./mailbox_pump.ts";
import type { OnlineUsers } from "./online.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { Slot } from "./slots.ts";
import type { IdleSession, IdleSweep } from "./idle_sweep.ts";

/** Default idle time after which a connection is closed: 5 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;

/**
 * Default largest frame accepted before login: 16 KiB, room for the largest
 * `register` (a 4 KiB key backup and two public keys). Larger frames need a
 * logged-in account, so a stranger cannot make the server hold large buffers.
 */
export const DEFAULT_MAX_PRELOGIN_FRAME_BYTES = 16 * 1024;

/**
 * Default bytes queued for a connection (sealed, not yet written) past which
 * its deliveries and requests pause: 1 MiB, one full record.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;

/** Default time without any queued output written before the reader is dropped: 30 s. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;

/** Suggested wait before retrying after a storage failure. */
const STORAGE_RETRY_MS = 1000;

/** What every session shares. */
export interface SessionContext extends FileContext {
  store: Store;
  accounts: Accounts;
  online: OnlineUsers;
  log: Logger;
  maxEnvelopeBytes: number;
  /** Set during shutdown: new requests are refused. */
  draining: boolean;
  /** Sends handed to the store and not yet acknowledged, over all sessions. */
  sendsInFlight: number;
  /** Closes a connection that sends nothing for its timeout (clients ping to stay). */
  idle: IdleSweep;
  /** Messages each account may send per minute. */
  sendRate: RateLimiter;
  /** Largest frame accepted before login. */
  maxPreloginFrameBytes: number;
  /** Unwritten bytes past which a session's deliveries and requests pause. */
  maxQueuedBytes: number;
  /** A session none of whose queued output is written for this long is dropped. */
  writeTimeoutMs: number;
}

/** Serves one connection until it closes. */
export class ClientSession implements IdleSession {
  readonly #channel: SecureChannel;
  readonly #context: SessionContext;
  readonly #address: string;
  readonly #connId: number;
  readonly #slot: Pick<Slot, "loggedIn">;
  #phone: string | null = null;
  /** The device token issued at this connection's login (it proves a known device). */
  #deviceToken: Uint8Array | undefined;
  #pump: MailboxPump | null = null;
  #files: FileTransfers | null = null;
  /** Made at the first send: a connection that never sends does not hold one. */
  #sends: SendPipeline | null = null;

  /** `slot` is told when the client has logged in (see ConnectionSlots). */
  constructor(
    channel: SecureChannel,
    context: SessionContext,
    address: string,
    connId: number,
    slot: Pick<Slot, "loggedIn">,
  ) {
    this.#channel = channel;
    this.#context = context;
    this.#address = address;
    this.#connId = connId;
    this.#slot = slot;
  }

  /** The logged-in account, if any. */
  get phone(): string | null {
    return this.#phone;
  }

  /** Reads and answers requests until the client leaves; throws on a protocol violation. */
  async run(): Promise<void> {
    this.#channel.limitReceivedFrames(this.#context.maxPreloginFrameBytes);
    try {
      for (;;) {
        // A client that does not read its replies gets no more of them: stop reading its requests.
        if (this.#flow.congested() && !await this.#flow.drain()) throw this.#slowReader();
        this.#context.idle.wait(this);
        const body = await this.#receive().finally(() => this.#context.idle.done(this));
        if (body === null) return;
        const message = decodeClientMessage(body);
        if (message.t === "alert") {
          this.#context.log({
            event: "peer_alert",
            conn: this.#connId,
            code: message.code,
            message: message.message,
          });
          return;
        }
        if (this.#context.draining && "id" in message) {
          await this.#replyError(
            message.id,
            new SspError("shutting_down", "the server is shutting down", { retryAfterMs: 1000 }),
          );
          continue;
        }
        if (message.t === "send") {
          this.#sends ??= new SendPipeline(this.#context, {
            phone: () => this.#requirePhone(),
            reply: (reply) => this.#reply(reply),
            replyError: (id, error) => this.#replyError(id, error),
          });
          await this.#sends.start(message);
          continue;
        }
        if (message.t === "file_chunk") {
          await this.#fileChunk(message);
          continue;
        }
        await this.#handle(message);
      }
    } finally {
      this.#files?.close();
      this.#pump?.stop();
      if (this.#phone) this.#context.online.remove(this.#phone, this);
    }
  }

  /** The client sent nothing for the idle timeout: close, telling it why. */
  idleTimedOut(): void {
    this.#context.log({ event: "idle_timeout", conn: this.#connId });
    void this.#channel.closeWithAlert(
      "idle_timeout",
      `no request for ${this.#context.idle.timeoutMs} ms; reconnect when needed`,
    );
  }

  /** Delivers a just-committed envelope if this session's account is a recipient. */
  offer(item: StoredEnvelope): void {
    this.#pump?.offer(item);
  }

  /** Reads the account's mailbox from the store now (several servers share it). */
  wake(): void {
    this.#pump?.wake();
  }

  /** Ends the session from outside (e.g. displaced by a newer login), telling the client why. */
  close(code: string, message: string): void {
    this.#context.log({ event: "session_closed", conn: this.#connId, code });
    this.#pump?.stop();
    void this.#channel.closeWithAlert(code, message);
  }

  /** Back-pressure on this connection's output (see Flow). */
  readonly #flow: Flow = {
    congested: () => this.#channel.queuedBytes > this.#context.maxQueuedBytes,
    drain: () => this.#channel.drain(this.#context.writeTimeoutMs),
  };

  #slowReader(): SspError {
    this.#context.log({
      event: "slow_reader",
      conn: this.#connId,
      queuedBytes: this.#channel.queuedBytes,
    });
    return new SspError(
      "slow_reader",
      `the client read nothing for ${this.#context.writeTimeoutMs} ms while data waited for it`,
      { hint: "reconnect; undelivered messages wait on the server" },
    );
  }

  /** The next request; before login, a frame over the pre-login limit is refused. */
  async #receive(): Promise<Uint8Array | null> {
    try {
      return await this.#channel.receive();
    } catch (error) {
      if (error instanceof FrameError && error.code === "frame_too_large" && !this.#phone) {
        throw new FrameError(
          "frame_too_large",
          `${error.message} before login; log in first to send larger requests`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** A chunk has no reply: a failure ends that upload with a `file_failed` push. */
  async #fileChunk(message: FileChunk): Promise<void> {
    try {
      if (!this.#files) throw new AuthError("not_logged_in", "log in first");
      await this.#files.chunk(message);
    } catch (error) {
      const e = error instanceof SspError ? error : new SspError("internal", String(error));
      await this.#reply({
        t: "file_failed",
        fileId: message.fileId,
        code: e.code,
        message: e.message,
      });
    }
  }

  async #handle(message: Exclude<ClientMessage, Send | FileChunk | { t: "alert" }>): Promise<void> {
    const id = "id" in message ? message.id : 0;
    try {
      const reply = await this.#answer(message);
      if (reply) await this.#reply(reply);
    } catch (error) {
      await this.#replyError(id, error);
    }
  }

  async #answer(
    message: Exclude<ClientMessage, Send | FileChunk | { t: "alert" }>,
  ): Promise<ServerMessage | null> {
    const { accounts, store } = this.#context;
    switch (message.t) {
      case "ping":
        return { t: "pong", id: message.id };
      case "prelogin":
        return { t: "prelogin_ok", id: message.id, ...(await accounts.prelogin(message.phone)) };
      case "register":
        await accounts.register(message, this.#address);
        this.#context.log({ event: "registered", conn: this.#connId, phone: message.phone });
        return { t: "ok", id: message.id };
      case "login": {
        if (this.#phone) {
          throw new ProtocolError("already_logged_in", "this connection is logged in already");
        }
        const { account, deviceToken } = await accounts.login(
          message.phone,
          message.authKey,
          this.#address,
          message.deviceToken,
        );
        this.#phone = account.phone;
        this.#deviceToken = deviceToken;
        this.#slot.loggedIn();
        this.#channel.limitReceivedFrames(null);
        this.#context.log({ event: "logged_in", conn: this.#connId, phone: account.phone });
        await this.#reply({
          t: "login_ok",
          id: message.id,
          encryptionKey: account.encryptionKey,
          signingKey: account.signingKey,
          keyBackup: account.keyBackup,
          deviceToken,
        });
        const delivered = await store.getDeliveredSeq(account.phone);
        this.#pump = new MailboxPump(
          store,
          account.phone,
          delivered,
          (item) =>
            this.#reply({
              t: "deliver",
              seq: item.seq,
              storedAt: item.storedAt,
              envelope: item.body,
            }),
          (error) => this.#fail(error),
          this.#flow,
        );
        this.#files = new FileTransfers(this.#context, account.phone, this.#channel);
        for (const old of this.#context.online.add(account.phone, this)) {
          old.close(
            "too_many_sessions",
            "this account logged in on too many connections; the oldest was closed",
          );
        }
        this.#pump.wake();
        return null;
      }
      case "change_password": {
        // The change ends every earlier device token (§6.9): this device gets a new one.
        const deviceToken = await accounts.changePassword(
          this.#requirePhone(),
          message,
          this.#address,
          this.#deviceToken,
        );
        this.#deviceToken = deviceToken;
        return { t: "ok", id: message.id, deviceToken };
      }
      case "get_keys": {
        this.#requirePhone();
        const keys = await store.getPublicKeys(message.phones);
        return { t: "keys", id: message.id, keys };
      }
      case "ack": {
        const phone = this.#requirePhone();
        const sent = this.#pump?.lastSentSeq ?? 0;
        if (message.seq > sent) {
          throw new ProtocolError(
            "bad_ack",
            `ack of seq ${message.seq}, but only ${sent} was delivered`,
          );
        }
        await store.setDeliveredSeq(phone, message.seq);
        this.#pump?.ack(message.seq);
        return null;
      }
      case "history":
        return await this.#history(message);
      case "file_begin":
        return await this.#requireFiles().begin(message);
      case "file_end":
        return await this.#requireFiles().end(message);
      case "file_share":
        return await this.#requireFiles().share(message);
      case "file_delete":
        return await this.#requireFiles().delete(message);
      case "file_get":
        return await this.#requireFiles().get(message);
      case "file_list":
        return await this.#requireFiles().list(message.id);
    }
  }

  async #history(message: History): Promise<ServerMessage> {
    const phone = this.#requirePhone();
    const items = await this.#context.store.history(phone, conversationKey(phone, message.with), {
      limit: message.limit,
      ...(message.before !== undefined ? { before: message.before } : {}),
      ...(message.after !== undefined ? { after: message.after } : {}),
    });
    return {
      t: "history_page",
      id: message.id,
      items: items.map((item) => ({ seq: item.seq, storedAt: item.storedAt, envelope: item.body })),
    };
  }

  #requireFiles(): FileTransfers {
    this.#requirePhone();
    return this.#files!;
  }

  #requirePhone(): string {
    if (this.#phone === null) {
      throw new AuthError("not_logged_in", "log in first", {
        hint: "send login before this request",
      });
    }
    return this.#phone;
  }

  #reply(message: ServerMessage): Promise<void> {
    return this.#channel.sendMessage(message);
  }

  async #replyError(id: number, error: unknown): Promise<void> {
    if (!(error instanceof SspError)) {
      this.#context.log({ event: "request_failed", conn: this.#connId, message: String(error) });
      error = new SspError("internal", "the server failed to handle this request");
    }
    const e = error as SspError;
    const storage = e instanceof StorageError;
    try {
      await this.#reply({
        t: "error",
        id,
        code: storage ? "storage_unavailable" : e.code,
        message: storage ? "storage unavailable, retry" : e.message,
        ...(storage ? { retryAfterMs: STORAGE_RETRY_MS } : {}),
        ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
        ...(e.hint !== undefined && !storage ? { hint: e.hint } : {}),
      });
    } catch { /* connection gone */ }
  }

  #fail(error: unknown): void {
    if (error instanceof SspError && error.code === "slow_reader") {
      const dropped = this.#slowReader(); // the pump waited in vain: same log, same alert
      void this.#channel.closeWithAlert(dropped.code, dropped.message);
      return;
    }
    this.#context.log({ event: "delivery_failed", conn: this.#connId, message: String(error) });
    this.#channel.close();
  }
}
