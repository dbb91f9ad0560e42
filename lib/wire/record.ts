/**
 * The record cipher: "XOR encryption" made sound. Each record is XORed with a
 * keystream and authenticated with a tag: ChaCha20-Poly1305 (RFC 8439), the
 * mandatory suite, or AES-256-GCM where the handshake chose it (§3.2). The
 * sealing itself is `../crypto/aead.ts`.
 *
 * {@linkcode RecordSealer} and {@linkcode RecordOpener} add what a bare AEAD
 * leaves to the caller: implicit never-repeating nonces, the frame header as
 * associated data, deterministic rekeying, exhaustion before the counter could
 * wrap, and a channel that stays closed after the first forged record.
 *
 * @module
 */
import {
  AEAD_SUITES,
  type AeadSuite,
  hkdfSha256,
  KEY_BYTES,
  NONCE_BYTES,
  openSealed,
  sealWithPrefix,
  splitLike,
} from "../crypto/mod.ts";
import { utf8 } from "../bytes.ts";
import { RecordError } from "../errors.ts";

const CHACHA = "chacha20-poly1305";
const REKEY_INFO = utf8("ssp/1 rekey");
const EMPTY = new Uint8Array(0);

/** When a channel rekeys and when it gives up. Both directions must use the same limits. */
export interface RecordLimits {
  /** Rekey once this many records were sealed under the current key. */
  rekeyAfterRecords: number;
  /** Rekey once this many plaintext bytes were sealed under the current key. */
  rekeyAfterBytes: number;
  /** Highest epoch number; epoch 0 is the initial key, so a channel rekeys at most this often. */
  maxEpochs: number;
}

/**
 * The limits ssp uses.
 *
 * ChaCha20-Poly1305 itself would tolerate far more per key: it has no
 * birthday bound like AES-GCM's, and its forgery bound grows with records ×
 * record length over 2^103 (RFC 8439 §4; draft-irtf-cfrg-aead-limits §5.2),
 * while here a single forged record closes the channel. The limits are low on
 * purpose for other reasons:
 *
 * - Each rekey runs the key through one-way HKDF and wipes the old one, so a
 *   key stolen from memory exposes at most the current 2^20 records or 1 GiB,
 *   not the whole connection. At 64 KiB records that is a rekey per 16,384
 *   records; one HKDF per GiB costs nothing measurable.
 * - 2^20 records × 2^32 epochs = 2^52 records, and 2^30 × 2^32 = 2^62 bytes,
 *   so every counter stays an exact JavaScript integer (< 2^53 records) and the
 *   64-bit nonce counter restarts long before it could wrap.
 *
 * The same limits suit AES-256-GCM, which does have a birthday bound: one key
 * seals under 2^30 bytes plus one record (< 2^31 bytes, 2^27 blocks), so the
 * distinguishing advantage stays below 2^54 / 2^128 = 2^-74, and the counter
 * nonces never repeat (draft-irtf-cfrg-aead-limits §5.1).
 */
export const DEFAULT_RECORD_LIMITS: Readonly<RecordLimits> = Object.freeze({
  rekeyAfterRecords: 2 ** 20,
  rekeyAfterBytes: 2 ** 30,
  maxEpochs: 2 ** 32,
});

/**
 * Key schedule and counters shared by both ends of one direction. Sealer and
 * opener advance it in lockstep, so they agree on every nonce and rekey without
 * sending either.
 */
class Direction {
  #key: Uint8Array;
  #limits: RecordLimits;
  #epoch = 0;
  #records = 0;
  #bytes = 0;

  constructor(key: Uint8Array, limits: RecordLimits) {
    if (!(key instanceof Uint8Array)) throw new TypeError("key must be a Uint8Array");
    if (key.length !== KEY_BYTES) {
      throw new RangeError(`key must be ${KEY_BYTES} bytes, got ${key.length}`);
    }
    checkLimits(limits);
    // Copied so the caller can wipe its array, and so our wipes cannot corrupt theirs.
    this.#key = key.slice();
    this.#limits = { ...limits };
  }

  get epoch(): number {
    return this.#epoch;
  }

  get records(): number {
    return this.#records;
  }

  /** Rekeys if the epoch is spent, then returns the key and the next record's nonce. */
  next(): { key: Uint8Array; nonce: Uint8Array } {
    const limits = this.#limits;
    if (this.#records >= limits.rekeyAfterRecords || this.#bytes >= limits.rekeyAfterBytes) {
      this.#rekey();
    }
    // Nonce = 4 zero bytes || 64-bit big-endian counter; the counter is below 2^53.
    const nonce = new Uint8Array(NONCE_BYTES);
    const view = new DataView(nonce.buffer);
    view.setUint32(4, Math.floor(this.#records / 2 ** 32));
    view.setUint32(8, this.#records >>> 0);
    return { key: this.#key, nonce };
  }

  /** Records that the record at the current counter was sealed or opened. */
  advance(plaintextBytes: number): void {
    this.#records++;
    this.#bytes += plaintextBytes;
  }

  /** Overwrites the key so it no longer sits in memory. */
  wipe(): void {
    this.#key.fill(0);
  }

  #rekey(): void {
    if (this.#epoch >= this.#limits.maxEpochs) {
      this.wipe();
      throw new RecordError(
        "channel_exhausted",
        `the channel used all ${this.#limits.maxEpochs} key epochs`,
        { hint: "reconnect to start a new session with fresh keys" },
      );
    }
    const next = hkdfSha256(this.#key, new Uint8Array(0), REKEY_INFO, KEY_BYTES);
    this.wipe();
    this.#key = next;
    this.#epoch++;
    this.#records = 0;
    this.#bytes = 0;
  }
}

/**
 * What a sealer and an opener share: one direction's key schedule and
 * counters, its suite, and the error that ended it for good, if any.
 */
abstract class RecordStream {
  protected readonly direction: Direction;
  protected readonly suite: AeadSuite;
  protected failure: RecordError | undefined;

  /**
   * @param key The 32-byte traffic key for this direction; copied.
   * @param limits Rekey and exhaustion limits; must match the peer's.
   * @param suite The record suite the handshake chose (§3.2); must match the peer's.
   * @throws {TypeError} If `key` is not a `Uint8Array`.
   * @throws {RangeError} If `key` is not 32 bytes, a limit is out of range or the suite unknown.
   */
  constructor(
    key: Uint8Array,
    limits: RecordLimits = DEFAULT_RECORD_LIMITS,
    suite: AeadSuite = CHACHA,
  ) {
    if (!AEAD_SUITES.includes(suite)) throw new RangeError(`unknown record suite ${suite}`);
    this.direction = new Direction(key, limits);
    this.suite = suite;
  }

  /** Number of rekeys so far. */
  get epoch(): number {
    return this.direction.epoch;
  }

  /** Records sealed (or opened) under the current epoch's key. */
  get records(): number {
    return this.direction.records;
  }
}

/**
 * Seals the records of one direction of a channel. Use one sealer per direction,
 * with a key no other sealer uses; the peer opens with a {@linkcode RecordOpener}
 * built from the same key, limits and suite.
 */
export class RecordSealer extends RecordStream {
  /**
   * Encrypts the next record.
   *
   * @param header The frame header (its length prefix), authenticated but not encrypted.
   * @param plaintext The record body.
   * @returns `ciphertext || tag`.
   * @throws {RecordError} `channel_exhausted` once every epoch is used, then on every call.
   * @throws {TypeError} If an argument is not a `Uint8Array`.
   */
  seal(header: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return this.#seal(header, [plaintext], EMPTY);
  }

  /**
   * Encrypts the next record, whose body is `parts` joined, without joining
   * them first: returns the ciphertext of each part, then the tag, as views
   * of one new buffer. Their concatenation is what {@linkcode seal} returns
   * for the joined body.
   *
   * @throws {RecordError} `channel_exhausted` once every epoch is used, then on every call.
   * @throws {TypeError} If an argument is not a `Uint8Array`.
   */
  sealParts(header: Uint8Array, parts: readonly Uint8Array[]): Uint8Array[] {
    return splitLike(this.#seal(header, parts, EMPTY), parts);
  }

  /**
   * Encrypts the next record, whose body is `parts` joined, into one new
   * buffer holding the whole frame, `header || ciphertext || tag`: the parts
   * are encrypted straight into it, so a record costs one allocation and one
   * write.
   *
   * @throws {RecordError} `channel_exhausted` once every epoch is used, then on every call.
   * @throws {TypeError} If an argument is not a `Uint8Array`.
   */
  sealFrame(header: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
    return this.#seal(header, parts, header);
  }

  #seal(header: Uint8Array, parts: readonly Uint8Array[], prefix: Uint8Array): Uint8Array {
    if (this.failure) throw this.failure;
    checkBytes(header, "header");
    let length = 0;
    for (const part of parts) {
      checkBytes(part, "plaintext");
      length += part.length;
    }
    let step;
    try {
      step = this.direction.next();
    } catch (error) {
      // Only exhaustion can fail here, and it is permanent.
      this.failure = error as RecordError;
      throw error;
    }
    const sealed = sealWithPrefix(this.suite, step.key, step.nonce, header, parts, prefix);
    this.direction.advance(length);
    return sealed;
  }
}

/**
 * Opens the records of one direction of a channel, in order, each exactly once.
 * The first record that fails to open closes the opener for good: a forgery, a
 * replay, a reorder or a lost record all mean the stream can no longer be trusted.
 */
export class RecordOpener extends RecordStream {
  /**
   * Verifies and decrypts the next record.
   *
   * @param header The frame header the record arrived with.
   * @param sealed `ciphertext || tag` as produced by {@linkcode RecordSealer.seal}.
   * @returns The plaintext, a new array, only after its tag verified.
   * @throws {RecordError} `record_auth_failed` for a record that does not verify,
   *   `channel_exhausted` once every epoch is used, and `channel_failed` on every
   *   call after any failure.
   */
  open(header: Uint8Array, sealed: Uint8Array): Uint8Array {
    if (this.failure) {
      throw new RecordError("channel_failed", "the channel is closed after an earlier failure", {
        cause: this.failure,
        hint: "reconnect to start a new session",
      });
    }
    try {
      checkBytes(header, "header");
      checkBytes(sealed, "sealed");
      const { key, nonce } = this.direction.next();
      const plaintext = openSealed(this.suite, key, nonce, header, sealed);
      this.direction.advance(plaintext.length);
      return plaintext;
    } catch (error) {
      // Any failure, even a caller's type error, ends the channel: the counter can no
      // longer be trusted to match the peer's, and retrying would give a forger more tries.
      this.failure = error instanceof RecordError
        ? error
        : new RecordError("channel_failed", "open() failed", { cause: error });
      this.direction.wipe();
      throw error;
    }
  }
}

function checkBytes(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

function checkLimits(limits: RecordLimits): void {
  // Safe integers keep the counters exact, and the record counter (< rekeyAfterRecords)
  // then always fits the nonce's 64 bits.
  for (const name of ["rekeyAfterRecords", "rekeyAfterBytes", "maxEpochs"] as const) {
    const value = limits[name];
    const least = name === "maxEpochs" ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new RangeError(`${name} must be a safe integer ≥ ${least}, got ${value}`);
    }
  }
}
