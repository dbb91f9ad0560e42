/**
 * The bus between ssp-server instances that share one store: NATS core
 * publish/subscribe, through the official client (`@nats-io/transport-node`).
 *
 * It carries only "mailbox X has something new" signals, one subject per
 * mailbox (`<prefix>.mailbox.<phone>`), with no payload: the store stays the
 * source of truth, and a signal only tells an instance that one of its
 * logged-in users should read their mailbox now. An instance subscribes to
 * the subjects of the accounts logged in on it, so NATS routes each signal
 * only to instances that have a reader for it (the subscriptions are the
 * presence), and an instance does not hear its own signals (`noEcho`).
 *
 * NATS core delivers at most once: a signal published while the connection
 * is down (the client discards what it buffered when it reconnects) or to a
 * slow consumer is lost. Nothing depends on one arriving: after a reconnect the server wakes
 * every local mailbox reader, and a periodic poll covers the rest (see
 * `MailboxSignals`).
 *
 * @module
 */
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { SspError } from "../errors.ts";

/** What the server needs from a bus. */
export interface Bus {
  /** Where signals and reconnections are reported (one listener; a later call replaces it). */
  listen(events: BusEvents): void;
  /** Signals that `phone`'s mailbox has new envelopes. Never throws: a lost signal only delays. */
  publish(phone: string): void;
  /**
   * Starts receiving signals for `phone`; resolves once the bus has the
   * subscription, so a signal published from then on reaches this instance.
   */
  watch(phone: string): Promise<void>;
  /** Stops receiving signals for `phone`. */
  unwatch(phone: string): void;
  /** Disconnects. */
  close(): Promise<void>;
}

/** What a bus reports to the server. */
export interface BusEvents {
  /** A signal for `phone` arrived. */
  signal(phone: string): void;
  /** The connection was lost: what is published until it is back is lost. */
  disconnected(): void;
  /** The connection came back after an outage: signals may have been lost meanwhile. */
  reconnected(): void;
}

/** Options of {@linkcode NatsBus.connect}. */
export interface NatsBusOptions {
  /** First token of every subject, so deployments can share a NATS server. Default `"ssp"`. */
  prefix?: string;
  /** How long the first connection may take. Default 2000 ms. */
  timeoutMs?: number;
}

/** How often the client pings the server; two unanswered pings count as a lost connection. */
export const PING_INTERVAL_MS = 5000;

/** Subject tokens may not contain these (NATS subject syntax). */
const BAD_TOKEN = /[\s.*>]/;

/** Signals over NATS core publish/subscribe. */
export class NatsBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  #events: BusEvents | null = null;
  readonly #subscriptions = new Map<string, Subscription>();

  private constructor(nc: NatsConnection, prefix: string) {
    this.#nc = nc;
    this.#prefix = prefix;
    (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") this.#events?.disconnected();
        if (status.type === "reconnect") this.#events?.reconnected();
      }
    })().catch(() => {});
  }

  /**
   * Connects to the NATS server(s) at `url` (`nats://HOST:PORT`, several
   * separated by commas). Once connected, the client reconnects by itself
   * for ever, resubscribing and sending what it buffered meanwhile.
   *
   * @throws {SspError} `bus_unavailable` naming the URL if no server answers.
   */
  static async connect(url: string, options: NatsBusOptions = {}): Promise<NatsBus> {
    const prefix = options.prefix ?? "ssp";
    if (prefix === "" || prefix.split(".").some((t) => t === "" || BAD_TOKEN.test(t))) {
      throw new SspError("bad_option", `invalid bus subject prefix "${prefix}"`);
    }
    const timeoutMs = options.timeoutMs ?? 2000;
    try {
      const nc = await connect({
        servers: url.split(","),
        name: "ssp-server",
        noEcho: true,
        timeout: timeoutMs,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // Notice a silent connection (a partition) within about 15 s, not the default 4 min.
        pingInterval: PING_INTERVAL_MS,
        maxPingOut: 2,
      });
      return new NatsBus(nc, prefix);
    } catch (error) {
      throw new SspError(
        "bus_unavailable",
        `Cannot reach the bus at ${url} (tried for ${timeoutMs} ms): ${
          error instanceof Error ? error.message : String(error)
        }`,
        {
          hint: "check that nats-server runs there (--bus / SSP_BUS_URL), " +
            "or leave --bus out: instances then see each other's messages only at each poll",
          cause: error,
        },
      );
    }
  }

  listen(events: BusEvents): void {
    this.#events = events;
  }

  publish(phone: string): void {
    const subject = this.#subject(phone);
    if (subject === null || this.#nc.isClosed()) return;
    try {
      this.#nc.publish(subject);
    } catch { /* lost: the poll delivers it */ }
  }

  async watch(phone: string): Promise<void> {
    const subject = this.#subject(phone);
    if (subject === null || this.#subscriptions.has(phone) || this.#nc.isClosed()) return;
    const subscription = this.#nc.subscribe(subject, {
      callback: (error) => {
        if (!error) this.#events?.signal(phone);
      },
    });
    this.#subscriptions.set(phone, subscription);
    await this.#nc.flush();
  }

  unwatch(phone: string): void {
    const subscription = this.#subscriptions.get(phone);
    this.#subscriptions.delete(phone);
    try {
      subscription?.unsubscribe();
    } catch { /* connection closed */ }
  }

  async close(): Promise<void> {
    this.#subscriptions.clear();
    if (!this.#nc.isClosed()) await this.#nc.drain().catch(() => this.#nc.close());
  }

  #subject(phone: string): string | null {
    return BAD_TOKEN.test(phone) || phone === "" ? null : `${this.#prefix}.mailbox.${phone}`;
  }
}
