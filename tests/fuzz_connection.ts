/**
 * The fuzzer's application connection: a real handshake (and login), then
 * raw message bodies on the secure channel, each followed by a `ping` whose
 * `pong` is the sync point.
 *
 * @module
 */
import { clientHandshake, type SecureChannel } from "../lib/channel/mod.ts";
import { decodeServerMessage, type ServerMessage } from "../lib/protocol/mod.ts";
import type { FuzzAccount } from "./fuzz_account.ts";
import { FuzzFailure, within } from "./fuzz_failure.ts";

/** 127.0.0.1 and a port. */
export interface FuzzTarget {
  hostname: string;
  port: number;
}

/** Tries at a new application connection before a refusal counts as a finding. */
const OPEN_ATTEMPTS = 20;
/** Wait between those tries. */
const OPEN_RETRY_MS = 250;

/** An application connection that sends raw message bodies on a real channel. */
export class FuzzConnection {
  readonly #channel: SecureChannel;
  readonly #errors: Record<string, number>;
  #nextSync = 4_000_000_000;

  private constructor(channel: SecureChannel, errors: Record<string, number>) {
    this.#channel = channel;
    this.#errors = errors;
  }

  /**
   * Connects, runs a real handshake and, given an account, logs in; the
   * server's error replies are counted in `errors`, by code. A server may
   * turn a connection away for a while under such a flood from one address
   * (a limit, a throttle): that is retried for up to OPEN_ATTEMPTS tries;
   * only a hang, or a refusal that lasts, is a finding.
   */
  static async open(
    target: FuzzTarget,
    errors: Record<string, number>,
    account: FuzzAccount | null,
  ): Promise<FuzzConnection> {
    let last: unknown;
    for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, OPEN_RETRY_MS));
      const conn = await Deno.connect(target);
      conn.setNoDelay(true); // a frame and its ping must not wait for Nagle
      let connection: FuzzConnection | null = null;
      try {
        connection = new FuzzConnection(await within(clientHandshake(conn), "handshake"), errors);
        if (account) await connection.#login(account);
        return connection;
      } catch (error) {
        if (error instanceof FuzzFailure) throw error;
        last = error;
        connection?.close();
        conn.close();
      }
    }
    throw new FuzzFailure(`a real client was turned away ${OPEN_ATTEMPTS} times: ${last}`, {
      cause: last,
    });
  }

  /** Logs in with the account's keys (its number is never fuzzed, so never throttled). */
  async #login(account: FuzzAccount): Promise<void> {
    await this.#channel.sendMessage({
      t: "login",
      id: 1,
      phone: account.phone,
      authKey: account.keys.authKey,
      ...(account.deviceToken ? { deviceToken: account.deviceToken } : {}),
    });
    const reply = await this.#until((m) => "id" in m && m.id === 1);
    if (reply?.t !== "login_ok") {
      throw new Error(`login refused: ${reply?.t === "error" ? reply.code : "connection closed"}`);
    }
  }

  /** Sends `body`, then a ping; true once its pong arrives, false if the server closed. */
  async sendAndSync(body: Uint8Array): Promise<boolean> {
    const sync = this.#nextSync++;
    try {
      await this.#channel.send(body);
      await this.#channel.sendMessage({ t: "ping", id: sync });
    } catch (error) {
      if (error instanceof RangeError) return true; // too large for one record: never sent
      return false; // closed
    }
    return await this.#until((m) => m.t === "pong" && m.id === sync) !== null;
  }

  close(): void {
    this.#channel.close();
  }

  /** Reads until `match`; null if the server closed first. */
  async #until(match: (message: ServerMessage) => boolean): Promise<ServerMessage | null> {
    for (;;) {
      let body: Uint8Array | null;
      try {
        body = await within(this.#channel.receive(), "a reply");
      } catch (error) {
        if (error instanceof FuzzFailure) throw error;
        return null;
      }
      if (body === null) return null;
      let message: ServerMessage;
      try {
        message = decodeServerMessage(body);
      } catch (error) {
        throw new FuzzFailure(`the server sent a message its own spec refuses: ${error}`);
      }
      if (message.t === "error") {
        this.#errors[message.code] = (this.#errors[message.code] ?? 0) + 1;
      }
      if (match(message)) return message;
    }
  }
}
