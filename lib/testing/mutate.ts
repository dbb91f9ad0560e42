/**
 * Seeded input mutation for fuzzing: a small PRNG (so that a seed replays a
 * run), byte-level mutations of encoded frames, and value-level mutations of
 * decoded messages (valid MessagePack, wrong fields). Pure: no I/O.
 *
 * @module
 */

/** mulberry32: a fast 32-bit generator; one seed gives one sequence. Not for secrets. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    let t = this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** `n` pseudo-random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** Bytes that mean something to MessagePack or to a length field. */
const INTERESTING_BYTES = [
  0x00,
  0x01,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xc4,
  0xc5,
  0xc6,
  0xca,
  0xcb,
  0xcc,
  0xcf,
  0xd3,
  0xd9,
  0xda,
  0xdb,
  0xdc,
  0xdd,
  0xde,
  0xdf,
  0xe0,
  0xff,
];

/** Big-endian integers that sit on a boundary (as 32-bit words). */
const INTERESTING_WORDS = [
  0,
  1,
  0x7f,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xffffffff,
];

type ByteMutator = (prng: Prng, bytes: Uint8Array) => Uint8Array;

const BYTE_MUTATORS: readonly ByteMutator[] = [
  function flipBit(prng, bytes) {
    if (bytes.length === 0) return bytes;
    const out = bytes.slice();
    out[prng.int(out.length)]! ^= 1 << prng.int(8);
    return out;
  },
  function interestingByte(prng, bytes) {
    if (bytes.length === 0) return Uint8Array.of(prng.pick(INTERESTING_BYTES));
    const out = bytes.slice();
    out[prng.int(out.length)] = prng.pick(INTERESTING_BYTES);
    return out;
  },
  function interestingWord(prng, bytes) {
    if (bytes.length < 4) return bytes;
    const out = bytes.slice();
    new DataView(out.buffer).setUint32(prng.int(out.length - 3), prng.pick(INTERESTING_WORDS));
    return out;
  },
  function truncate(prng, bytes) {
    return bytes.slice(0, prng.int(bytes.length));
  },
  function deleteRange(prng, bytes) {
    const start = prng.int(bytes.length);
    const end = Math.min(bytes.length, start + 1 + prng.int(16));
    const out = new Uint8Array(bytes.length - (end - start));
    out.set(bytes.subarray(0, start));
    out.set(bytes.subarray(end), start);
    return out;
  },
  function insertRandom(prng, bytes) {
    return insertAt(bytes, prng.int(bytes.length + 1), prng.bytes(1 + prng.int(64)));
  },
  function duplicateRange(prng, bytes) {
    const start = prng.int(bytes.length);
    return insertAt(
      bytes,
      prng.int(bytes.length + 1),
      bytes.slice(start, start + 1 + prng.int(64)),
    );
  },
  function deepArrays(prng, bytes) {
    // Arrays of one element nested thousands deep: a recursive decoder's stack.
    const nested = new Uint8Array(prng.pick([200, 5000, 100_000]) + 1);
    nested.fill(prng.pick([0x91, 0x81, 0xdc]), 0, nested.length - 1);
    nested[nested.length - 1] = 0xc0;
    return insertAt(bytes, prng.int(bytes.length + 1), nested);
  },
  function randomBytes(prng) {
    return prng.bytes(prng.int(300));
  },
];

/** `bytes` with `piece` inserted at offset `at`. */
function insertAt(bytes: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + piece.length);
  out.set(bytes.subarray(0, at));
  out.set(piece, at);
  out.set(bytes.subarray(at), at + piece.length);
  return out;
}

/** `bytes` with one to four byte-level mutations (never the input array itself). */
export function mutateBytes(prng: Prng, bytes: Uint8Array): Uint8Array {
  let out: Uint8Array = bytes.slice();
  const rounds = 1 + prng.int(4);
  for (let i = 0; i < rounds; i++) out = prng.pick(BYTE_MUTATORS)(prng, out);
  return out;
}

/** A value that a field should not (or only just) hold. */
function interestingValue(prng: Prng, message: Record<string, unknown>): unknown {
  switch (prng.int(24)) {
    case 0:
      return null;
    case 1:
      return prng.chance(0.5);
    case 2:
      return prng.pick([0, -1, 1, 1.5, NaN, Infinity, -Infinity]);
    case 3:
      return prng.pick([2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e308]);
    case 4:
      return "";
    case 5:
      return prng.pick(["\u0000", "\u202e", "😀", "+", "+0", "+1" + "9".repeat(20)]);
    case 6:
      return "+1201555" + String(prng.int(10_000)).padStart(4, "0");
    case 7:
      return "0123456789abcdef".repeat(2).slice(0, prng.int(40));
    case 8:
      return "A".repeat(prng.pick([255, 256, 257, 4096, 70_000]));
    case 9:
      return new Uint8Array(0);
    case 10:
      return prng.bytes(prng.pick([1, 15, 16, 17, 31, 32, 33, 64]));
    case 11:
      return prng.bytes(prng.int(2048));
    case 12:
      return prng.bytes(prng.pick([4095, 4096, 4097, 65_536, 262_144, 262_145, 600_000]));
    case 13:
      return [];
    case 14:
      return Array.from({ length: prng.pick([1, 2, 64, 65, 1000]) }, () => "+12015550102");
    case 15:
      return {};
    case 16: {
      let nested: unknown = [];
      // The encoder stops at 100 levels; deeper nesting comes from the byte mutator `deepArrays`.
      for (let i = 0, depth = prng.pick([10, 90]); i < depth; i++) nested = [nested];
      return nested;
    }
    case 17:
      return { t: "ping", id: 1 };
    case 18:
      return [prng.bytes(32), 1, "x"];
    default: {
      const other = Object.values(message);
      return other.length ? prng.pick(other) : null;
    }
  }
}

/** Message types a client may send, for swapping `t`. */
const CLIENT_TYPES = [
  "ping",
  "prelogin",
  "register",
  "login",
  "change_password",
  "get_keys",
  "send",
  "ack",
  "history",
  "file_begin",
  "file_chunk",
  "file_end",
  "file_share",
  "file_delete",
  "file_get",
  "file_list",
  "alert",
  "deliver",
  "error",
  "nonsense",
];

/**
 * A structurally mutated copy of `message`: a field set to an awkward value,
 * removed, added, or `t` swapped for another type. Still encodable.
 */
export function mutateMessage(
  prng: Prng,
  message: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...message };
  const rounds = 1 + prng.int(3);
  for (let i = 0; i < rounds; i++) {
    const keys = Object.keys(out);
    switch (prng.int(6)) {
      case 0:
        delete out[prng.pick(keys)];
        break;
      case 1:
        // Defined, not assigned: "__proto__" becomes an own key, as a hostile encoder sends it.
        Object.defineProperty(out, prng.pick(["x", "id", "extra", "__proto__", "constructor"]), {
          value: interestingValue(prng, out),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        break;
      case 2:
        out.t = prng.pick(CLIENT_TYPES);
        break;
      default:
        if (keys.length) out[prng.pick(keys)] = interestingValue(prng, out);
    }
  }
  return out;
}
