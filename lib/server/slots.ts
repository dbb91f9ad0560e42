/**
 * Connection slots: how many connections the server holds, how many one
 * address may hold, and how long a connection may stay without logging in.
 *
 * Slots are shared fairly between addresses: a connection over its
 * address's limit, or over the server's, takes the slot of the oldest
 * connection that has not logged in (of its own address first), and is
 * refused only when every candidate slot belongs to a logged-in session.
 * Every connection must log in within the login deadline of connecting, so
 * a connection that never logs in (idle, stalled mid-frame, or pinging
 * forever) holds its slot for a bounded time.
 *
 * @module
 */

/** Default most simultaneous connections. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** Default most simultaneous connections from one address (an IPv6 /64 counts as one). */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 32;

/** Default time from connecting to a completed login: 30 s. */
export const DEFAULT_LOGIN_TIMEOUT_MS = 30_000;

/** The limits slots enforce. */
export interface SlotLimits {
  /** Most simultaneous connections. */
  maxConnections: number;
  /** Most simultaneous connections from one address. */
  maxPerAddress: number;
  /** Time a connection has from connecting to a completed login. */
  loginTimeoutMs: number;
}

/** Closes a connection that lost its slot, telling the peer why where it can. */
export type CloseConnection = (code: string, message: string) => void;

/** One admitted connection's hold on a slot. */
export class Slot {
  readonly id: number;
  /** The address limits count by (see `addressKey`). */
  readonly address: string;
  readonly #slots: ConnectionSlots;
  readonly #close: CloseConnection;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    slots: ConnectionSlots,
    id: number,
    address: string,
    close: CloseConnection,
    loginTimeoutMs: number,
  ) {
    this.#slots = slots;
    this.id = id;
    this.address = address;
    this.#close = close;
    this.#timer = setTimeout(() => {
      this.#slots.release(this);
      close(
        "login_timeout",
        `not logged in within ${loginTimeoutMs} ms of connecting; reconnect and log in`,
      );
    }, loginTimeoutMs);
  }

  /** The connection logged in: its login deadline is off and it can no longer be evicted. */
  loggedIn(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#slots.markLoggedIn(this);
  }

  /** Frees the slot (the connection ended); harmless to call twice. */
  release(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#slots.release(this);
  }

  /** Frees the slot and closes the connection to make room for another. */
  evict(): void {
    this.release();
    this.#close(
      "evicted",
      "the server needed this connection's slot and it had not logged in; reconnect and log in",
    );
  }
}

/** The server's connection slots. */
export class ConnectionSlots {
  readonly #limits: SlotLimits;
  readonly #open = new Set<Slot>();
  /** Connections not logged in, oldest first (a Set keeps insertion order). */
  readonly #anonymous = new Set<Slot>();
  readonly #perAddress = new Map<string, number>();

  constructor(limits: SlotLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive whole number, got ${value}`);
      }
    }
    this.#limits = limits;
  }

  /** Connections holding a slot. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Admits a connection from `address` (a host, see `addressKey`), evicting
   * the oldest connection that has not logged in when a limit is reached.
   * Returns its slot, or why it is refused. `evicted` is told whom it evicted.
   */
  admit(
    id: number,
    address: string,
    close: CloseConnection,
    evicted: (slot: Slot) => void = () => {},
  ): Slot | { refused: string } {
    const key = addressKey(address);
    if ((this.#perAddress.get(key) ?? 0) >= this.#limits.maxPerAddress) {
      const victim = this.#oldestAnonymous(key);
      if (!victim) {
        return { refused: `limit of ${this.#limits.maxPerAddress} per address reached` };
      }
      victim.evict();
      evicted(victim);
    }
    if (this.#open.size >= this.#limits.maxConnections) {
      const victim = this.#oldestAnonymous();
      if (!victim) return { refused: `limit of ${this.#limits.maxConnections} reached` };
      victim.evict();
      evicted(victim);
    }
    const slot = new Slot(this, id, key, close, this.#limits.loginTimeoutMs);
    this.#open.add(slot);
    this.#anonymous.add(slot);
    this.#perAddress.set(key, (this.#perAddress.get(key) ?? 0) + 1);
    return slot;
  }

  /** Called by `Slot.loggedIn`. */
  markLoggedIn(slot: Slot): void {
    this.#anonymous.delete(slot);
  }

  /** Called by `Slot.release`. */
  release(slot: Slot): void {
    if (!this.#open.delete(slot)) return;
    this.#anonymous.delete(slot);
    const count = (this.#perAddress.get(slot.address) ?? 1) - 1;
    if (count > 0) this.#perAddress.set(slot.address, count);
    else this.#perAddress.delete(slot.address);
  }

  #oldestAnonymous(address?: string): Slot | undefined {
    for (const slot of this.#anonymous) {
      if (address === undefined || slot.address === address) return slot;
    }
    return undefined;
  }
}

/**
 * The key per-address limits count by: an IPv4 address as it is, an IPv6
 * address by its /64 prefix (one customer usually gets a whole /64, so
 * counting single IPv6 addresses would let one client take every slot).
 */
export function addressKey(host: string): string {
  if (!host.includes(":")) return host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1]!;
  const [head = "", tail = ""] = host.split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = host.includes("::") && tail ? tail.split(":") : [];
  const groups = host.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((g) => parseInt(g || "0", 16).toString(16)).join(":") + "::/64";
}
