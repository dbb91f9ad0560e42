/**
 * Diffie-Hellman key agreement for the secure channel: X25519 (WebCrypto) or finite-field DH
 * over an RFC 7919 group or over a "custom" group that a server supplied and that
 * {@linkcode validateGroupParameters} accepted.
 *
 * Groups are only made by {@linkcode namedGroup} and {@linkcode validateGroupParameters};
 * the other functions refuse a hand-built group object, so an unvalidated server group can
 * never reach key generation. Every rejection of a group or public value is a `DhError` with
 * a stable code (see {@linkcode DH_ERROR_CODES}).
 *
 * Finite-field arithmetic uses JavaScript `bigint`, which is not constant-time: the time of a
 * modular exponentiation depends on the private exponent. ssp uses each key pair for one
 * handshake only, which limits what a timing observer could learn to one sample per key; X25519
 * (WebCrypto, constant-time) is the default for that reason too.
 *
 * @module
 */
import { constantTimeEqual, fromHex, sha256, toHex, utf8 } from "../bytes.ts";
import { encodeDhParamsDer } from "./dhparam.ts";
import { DhError } from "../errors.ts";
import { FFDHE_GROUPS } from "./ffdhe.ts";
import {
  bitLength,
  classifySafePrime,
  DEFAULT_ROUNDS,
  modPow,
  randomBigIntInRange,
  type RandomSource,
} from "./primes.ts";

/** Names of the groups ssp can negotiate; `"custom"` is a server-supplied finite-field group. */
export type GroupName = "x25519" | "ffdhe2048" | "ffdhe3072" | "ffdhe4096" | "custom";

/** A finite-field group: safe prime p, generator g of the subgroup of prime order q = (p−1)/2. */
export interface FfdhGroup {
  /** The RFC 7919 name, or `"custom"` for server-supplied parameters. */
  readonly name: Exclude<GroupName, "x25519">;
  /** The safe prime modulus. */
  readonly p: bigint;
  /** The generator, of order q. */
  readonly g: bigint;
  /** The prime subgroup order (p − 1) / 2. */
  readonly q: bigint;
  /** The bit length of p. */
  readonly bits: number;
}

/** The X25519 group (RFC 7748). */
export interface X25519Group {
  /** Always `"x25519"`. */
  readonly name: "x25519";
}

/** Any group ssp can run Diffie-Hellman in. */
export type DhGroup = X25519Group | FfdhGroup;

/** Smallest accepted prime, in bits (below it, discrete logs are within reach: Logjam). */
export const MIN_PRIME_BITS = 2048;

/**
 * Largest accepted prime, in bits. Validation costs grow with the cube of the size, so without
 * a cap a server could make a client spend minutes testing a huge "prime"; at 4096 bits it takes
 * a few seconds, well inside the handshake timeout (8192 bits would take about 18 s).
 */
export const MAX_PRIME_BITS = 4096;

/** Length in bytes of an X25519 public key and shared secret. */
export const X25519_KEY_LENGTH = 32;

/** The stable `code` of every `DhError` this module throws. */
export const DH_ERROR_CODES = Object.freeze(
  {
    /** The server's prime has fewer than {@linkcode MIN_PRIME_BITS} bits. */
    primeTooSmall: "dh_prime_too_small",
    /** The server's prime has more than {@linkcode MAX_PRIME_BITS} bits. */
    primeTooLarge: "dh_prime_too_large",
    /** The server's modulus is composite. */
    primeComposite: "dh_prime_composite",
    /** The server's prime is not a safe prime: (p − 1)/2 is composite. */
    primeNotSafe: "dh_prime_not_safe",
    /** The server's generator is out of range or does not generate the order-q subgroup. */
    badGenerator: "dh_bad_generator",
    /** A peer's public value has the wrong length, is out of range or outside the subgroup. */
    badPublicValue: "dh_bad_public_value",
    /** A peer's X25519 share is a low-order point: the shared secret would be all zeros. */
    lowOrder: "dh_low_order",
  } as const,
);

const X25519: X25519Group = Object.freeze({ name: "x25519" });

/** Groups made by this module; anything else is refused (see the module documentation). */
const knownGroups = new WeakSet<DhGroup>([X25519, ...Object.values(FFDHE_GROUPS)]);

const SERVER_GROUP_HINT = "The server's Diffie-Hellman parameters are unsafe; ask its operator " +
  "to use an RFC 7919 group or to generate new ones with `openssl dhparam 2048`.";

/** The built-in group called `name`. */
export function namedGroup(name: Exclude<GroupName, "custom">): DhGroup {
  if (name === "x25519") return X25519;
  const group = FFDHE_GROUPS[name];
  if (group === undefined) throw new TypeError(`unknown DH group: ${String(name)}`);
  return group;
}

/** Options for {@linkcode validateGroupParameters}. */
export interface ValidateGroupOptions {
  /**
   * Group ids ({@linkcode groupId}) that this client fully validated before, for example in an
   * earlier session with the same server. For these the expensive primality tests are skipped
   * (the cheap size and generator checks still run). Never fill this from the network.
   */
  readonly validatedIds?: ReadonlySet<string>;
}

/**
 * Checks DH parameters (p, g) received from a server and returns them as a group:
 *
 * - p has between {@linkcode MIN_PRIME_BITS} and {@linkcode MAX_PRIME_BITS} bits;
 * - p and q = (p − 1)/2 are prime, with error ≤ 2^-128 (Miller-Rabin on q with random
 *   bases; p then follows by Pocklington's theorem, see `classifySafePrime()`);
 * - 1 < g < p − 1 and g^q ≡ 1 (mod p), so g generates the subgroup of prime order q.
 *
 * Parameters equal to an RFC 7919 group come back as that named group. A 2048-bit custom group
 * costs about half a second of Miller-Rabin; cache its {@linkcode groupId} and pass it in
 * `options.validatedIds` next time. Throws `DhError` saying what is wrong.
 */
export function validateGroupParameters(
  p: bigint,
  g: bigint,
  options: ValidateGroupOptions = {},
): FfdhGroup {
  for (const named of Object.values(FFDHE_GROUPS)) {
    if (named.p === p && named.g === g) return named;
  }
  const bits = p > 0n ? bitLength(p) : 0;
  if (bits < MIN_PRIME_BITS) {
    throw new DhError(
      DH_ERROR_CODES.primeTooSmall,
      `server DH prime is ${bits} bits; ssp requires at least ${MIN_PRIME_BITS}`,
      { hint: SERVER_GROUP_HINT },
    );
  }
  if (bits > MAX_PRIME_BITS) {
    throw new DhError(
      DH_ERROR_CODES.primeTooLarge,
      `server DH prime is ${bits} bits; ssp accepts at most ${MAX_PRIME_BITS}`,
      { hint: SERVER_GROUP_HINT },
    );
  }
  if (g === p - 1n) {
    throw new DhError(DH_ERROR_CODES.badGenerator, "server DH generator has order 2, not q", {
      hint: SERVER_GROUP_HINT,
    });
  }
  if (g <= 1n || g >= p) {
    throw new DhError(
      DH_ERROR_CODES.badGenerator,
      `server DH generator is ${g <= 1n ? g : "not less than p"} (must be between 2 and p − 2)`,
      { hint: SERVER_GROUP_HINT },
    );
  }
  const q = (p - 1n) / 2n;
  const id = hashParameters(p, g);
  if (!options.validatedIds?.has(id)) {
    const verdict = classifySafePrime(p, DEFAULT_ROUNDS);
    if (verdict === "composite") {
      throw new DhError(
        DH_ERROR_CODES.primeComposite,
        "server DH prime is not prime (composite modulus)",
        { hint: SERVER_GROUP_HINT },
      );
    }
    if (verdict === "not_safe") {
      throw new DhError(
        DH_ERROR_CODES.primeNotSafe,
        "server DH prime is not a safe prime ((p − 1)/2 is composite)",
        { hint: SERVER_GROUP_HINT },
      );
    }
  }
  if (modPow(g, q, p) !== 1n) {
    throw new DhError(
      DH_ERROR_CODES.badGenerator,
      "server DH generator does not generate the prime-order subgroup (g^q ≠ 1 mod p)",
      { hint: SERVER_GROUP_HINT },
    );
  }
  const group: FfdhGroup = Object.freeze({ name: "custom", p, g, q, bits });
  knownGroups.add(group);
  return group;
}

function hashParameters(p: bigint, g: bigint): string {
  return toHex(sha256(encodeDhParamsDer(p, g)));
}

/** Computed once: every X25519 connection keeps the same string. */
const X25519_GROUP_ID = toHex(sha256(utf8("x25519")));

/**
 * A stable identifier of the group: lower-case hex SHA-256 of its parameters. For
 * finite-field groups that is the SHA-256 of the DER `DH PARAMETERS` encoding of (p, g) (so a
 * custom group equal to an RFC 7919 group has the same id); for X25519 it is the SHA-256 of
 * the ASCII string `x25519`.
 */
export function groupId(group: DhGroup): string {
  if (group.name === "x25519") return X25519_GROUP_ID;
  return hashParameters(group.p, group.g);
}

/** Length in bytes of a public value (and of the shared secret) in `group`. */
export function publicValueLength(group: DhGroup): number {
  return group.name === "x25519" ? X25519_KEY_LENGTH : Math.ceil(group.bits / 8);
}

/** An ephemeral key pair; the private part is held by this module and never exposed. */
export interface DhKeyPair {
  /** The group the key pair belongs to. */
  readonly group: DhGroup;
  /** The public value to send: 32 raw bytes (X25519), or y big-endian in the length of p. */
  readonly publicKey: Uint8Array;
}

/** Private halves, keyed by their key pair, so that they cannot be read or serialised. */
const privateKeys = new WeakMap<DhKeyPair, CryptoKey | bigint>();

function assertKnownGroup(group: DhGroup): void {
  if (!knownGroups.has(group)) {
    throw new TypeError(
      "DH group was not made by namedGroup() or validateGroupParameters(); refusing to use it",
    );
  }
}

function encodeFixed(n: bigint, length: number): Uint8Array {
  return fromHex(n.toString(16).padStart(length * 2, "0"));
}

function decodeBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + toHex(bytes));
}

/** The X25519 base point u = 9, to derive a public key from an imported private key. */
const X25519_BASE_POINT = Uint8Array.of(9, ...new Uint8Array(31));
/** PKCS #8 wrapping of a raw X25519 private key (RFC 8410), which WebCrypto needs to import. */
const X25519_PKCS8_PREFIX = fromHex("302e020100300506032b656e04220420");

function makeKeyPair(
  group: DhGroup,
  secret: CryptoKey | bigint,
  publicKey: Uint8Array,
): DhKeyPair {
  const pair: DhKeyPair = Object.freeze({ group, publicKey });
  privateKeys.set(pair, secret);
  return pair;
}

/**
 * A fresh key pair in `group`. For finite-field groups the private exponent x is uniform in
 * [2, q − 2] (full size rather than a short exponent, so no assumption about short-exponent
 * discrete logs is needed) and the public value is g^x mod p.
 *
 * `random` is for known-answer tests: given one, an X25519 scalar is its next 32 bytes and x
 * is drawn from it; without one, WebCrypto makes the X25519 key and x comes from the system
 * CSPRNG.
 */
export async function generateKeyPair(group: DhGroup, random?: RandomSource): Promise<DhKeyPair> {
  assertKnownGroup(group);
  if (group.name === "x25519" && random) {
    return await importPrivateKey(group, random(new Uint8Array(X25519_KEY_LENGTH)));
  }
  if (group.name === "x25519") {
    const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
      "deriveBits",
    ]) as CryptoKeyPair;
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return makeKeyPair(group, pair.privateKey, raw);
  }
  const x = randomBigIntInRange(2n, group.q - 2n, random);
  return makeKeyPair(group, x, encodeFixed(modPow(group.g, x, group.p), publicValueLength(group)));
}

/**
 * The key pair with the given private key, for known-answer tests; real handshakes use
 * {@linkcode generateKeyPair}. X25519 takes the 32-byte scalar of RFC 7748; finite-field
 * groups take x big-endian (any length), which must lie in [2, q − 2] (`RangeError`).
 */
export async function importPrivateKey(
  group: DhGroup,
  privateKey: Uint8Array,
): Promise<DhKeyPair> {
  assertKnownGroup(group);
  if (group.name === "x25519") {
    if (privateKey.length !== X25519_KEY_LENGTH) {
      throw new RangeError(`X25519 private key must be 32 bytes, got ${privateKey.length}`);
    }
    const pkcs8 = new Uint8Array([...X25519_PKCS8_PREFIX, ...privateKey]);
    const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, [
      "deriveBits",
    ]);
    const base = await crypto.subtle.importKey(
      "raw",
      X25519_BASE_POINT,
      { name: "X25519" },
      true,
      [],
    );
    const publicKey = await crypto.subtle.deriveBits({ name: "X25519", public: base }, key, 256);
    return makeKeyPair(group, key, new Uint8Array(publicKey));
  }
  const x = decodeBigInt(privateKey);
  if (x < 2n || x > group.q - 2n) throw new RangeError("DH private exponent is outside [2, q − 2]");
  return makeKeyPair(group, x, encodeFixed(modPow(group.g, x, group.p), publicValueLength(group)));
}

function badPublicValue(message: string, cause?: unknown): DhError {
  return new DhError(DH_ERROR_CODES.badPublicValue, message, {
    hint:
      "The peer sent an invalid key share; this is a bug or an attack, so do not retry blindly.",
    cause,
  });
}

/**
 * Checks a peer's public value before use; throws `DhError` saying what is wrong.
 *
 * X25519: exactly 32 bytes (low-order points are caught when the secret is computed, since
 * RFC 7748 defines the check on the output). Finite-field: exactly the byte length of p, and
 * 1 < y < p − 1. Custom groups also need y^q ≡ 1 (mod p), i.e. y in the order-q subgroup
 * (SP 800-56A full public-key validation). RFC 7919 groups skip that exponentiation by
 * design (RFC 7919 §5.1): p is a known safe prime, so the only small subgroup is {1, p − 1},
 * which the range check already excludes; a y outside the order-q subgroup can reveal at most
 * the lowest bit of an exponent that is used once. Custom parameters arrived over the network,
 * so they get the full check as defence in depth.
 */
export function validatePublicValue(group: DhGroup, peerPublic: Uint8Array): void {
  assertKnownGroup(group);
  const length = publicValueLength(group);
  if (group.name === "x25519") {
    if (peerPublic.length !== length) {
      throw badPublicValue(`peer X25519 share is ${peerPublic.length} bytes; X25519 needs 32`);
    }
    return;
  }
  if (peerPublic.length !== length) {
    throw badPublicValue(
      `peer DH public value is ${peerPublic.length} bytes; ${group.name} (${group.bits}-bit) needs ${length}`,
    );
  }
  const y = decodeBigInt(peerPublic);
  if (y <= 1n) throw badPublicValue(`peer DH public value is ${y} (out of range)`);
  if (y === group.p - 1n) throw badPublicValue("peer DH public value is p − 1 (out of range)");
  if (y >= group.p) throw badPublicValue("peer DH public value is not less than p (out of range)");
  if (group.name === "custom" && modPow(y, group.q, group.p) !== 1n) {
    throw badPublicValue(
      "peer DH public value is outside the prime-order subgroup (y^q ≠ 1 mod p)",
    );
  }
}

/**
 * The shared secret between `own` and the peer's public value, after
 * {@linkcode validatePublicValue}: 32 bytes for X25519, y^x mod p big-endian in the length of
 * p otherwise. An X25519 share that yields the all-zero secret (a low-order point, RFC 7748
 * §6.1) is a `DhError` with code `dh_low_order`. Feed the result to a KDF, never use it raw.
 */
export async function computeSharedSecret(
  own: DhKeyPair,
  peerPublic: Uint8Array,
): Promise<Uint8Array> {
  const secret = privateKeys.get(own);
  if (secret === undefined) throw new TypeError("key pair was not made by generateKeyPair()");
  validatePublicValue(own.group, peerPublic);
  if (typeof secret === "bigint") {
    const group = own.group as FfdhGroup;
    return encodeFixed(
      modPow(decodeBigInt(peerPublic), secret, group.p),
      publicValueLength(group),
    );
  }
  let shared: Uint8Array;
  try {
    const peer = await crypto.subtle.importKey(
      "raw",
      peerPublic.slice(),
      { name: "X25519" },
      false,
      [],
    );
    shared = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "X25519", public: peer }, secret, 256),
    );
  } catch (cause) {
    // Deno refuses to return an all-zero X25519 output with an OperationError; other runtimes
    // return the zeros, which the check below catches.
    if (cause instanceof DOMException && cause.name === "OperationError") throw lowOrder(cause);
    throw badPublicValue("peer X25519 share could not be used", cause);
  }
  if (constantTimeEqual(shared, new Uint8Array(X25519_KEY_LENGTH))) throw lowOrder(undefined);
  return shared;
}

function lowOrder(cause: unknown): DhError {
  return new DhError(
    DH_ERROR_CODES.lowOrder,
    "peer X25519 share gives an all-zero secret (low-order point)",
    {
      hint: "The peer sent a degenerate key share; this is a bug or an attack.",
      cause,
    },
  );
}
