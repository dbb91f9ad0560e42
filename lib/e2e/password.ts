/**
 * Password-derived keys. The password never leaves the client: the client
 * stretches it with scrypt into a master key, then splits that into an
 * `authKey` (sent to the server to log in) and a `wrapKey` (which encrypts the
 * identity-key backup and is never sent). The server stores only
 * {@linkcode verifierOf}(authKey), so neither its database nor its operator
 * learns the password or the wrap key.
 *
 * @module
 */
import { scrypt } from "node:crypto";
import { z } from "zod";
import { constantTimeEqual, utf8 } from "../bytes.ts";
import { AuthError } from "../errors.ts";
import { hkdfSha256, hmacSha256 } from "../crypto/mod.ts";

/** Parameters of the password KDF, chosen by the client at registration and kept by the server. */
export interface KdfParams {
  /** The only KDF so far. */
  readonly name: "scrypt";
  /** CPU/memory cost: a power of two. Memory used is 128 · N · r bytes. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism (node runs the p lanes one after another, so it multiplies time, not memory). */
  readonly p: number;
}

/**
 * N = 2^17, r = 8, p = 1: OWASP's minimum recommended scrypt configuration
 * (Password Storage Cheat Sheet), 128 MiB of memory per guess.
 */
export const DEFAULT_KDF_PARAMS: KdfParams = Object.freeze({
  name: "scrypt",
  N: 2 ** 17,
  r: 8,
  p: 1,
});

/** Fewest characters (Unicode code points, after NFC) a password may have. */
export const MIN_PASSWORD_CHARS = 8;
/** Length of the master key, the auth key, the wrap key and a verifier, in bytes. */
export const KEY_BYTES = 32;
/** Length of a password salt or verifier salt, in bytes. */
export const SALT_BYTES = 16;

/**
 * Bounds on what a server may ask the client to spend. N·r·p is proportional
 * to the time scrypt takes; 2^20 is the OWASP minimum (2^17 · 8 · 1) and
 * 2^23 is eight times that (about 5 s and 1 GiB here). A malicious server can
 * therefore neither weaken the KDF below the minimum nor make a login burn
 * minutes or gigabytes; since p ≥ 1, N·r ≤ 2^23 also caps memory at 1 GiB.
 */
const MIN_N_LOG2 = 15;
const MAX_N_LOG2 = 20;
const MIN_WORK = 2 ** 20;
const MAX_WORK = 2 ** 23;

const kdfParamsSchema = z.strictObject({
  name: z.literal("scrypt"),
  N: z.number().int(),
  r: z.number().int().min(8).max(16),
  p: z.number().int().min(1).max(4),
});

/** Serialises `params` as the JSON string the server stores and hands back at login. */
export function encodeKdfParams(params: KdfParams): string {
  const problem = kdfParamsProblem(params);
  if (problem) throw new RangeError(`invalid KDF parameters: ${problem}`);
  return JSON.stringify({ name: params.name, N: params.N, r: params.r, p: params.p });
}

/**
 * Parses KDF parameters received from the server, refusing any the client
 * should not run: unknown names, N not a power of two from 2^15 to 2^20,
 * r outside 8..16, p outside 1..4, or a total cost outside the bounds above.
 *
 * @throws {AuthError} `kdf_params_rejected` if `text` is not acceptable parameters.
 */
export function decodeKdfParams(text: string): KdfParams {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw rejected("not JSON", cause);
  }
  const problem = kdfParamsProblem(value);
  if (problem) throw rejected(problem);
  const { N, r, p } = value as KdfParams;
  return Object.freeze({ name: "scrypt", N, r, p });
}

/**
 * Stretches `password` into the 32-byte master key with scrypt.
 *
 * The password is NFC-normalised first, so the same password typed on
 * systems that compose accents differently gives the same key.
 *
 * @param salt The account's random salt ({@linkcode SALT_BYTES} or more).
 * @throws {AuthError} `password_too_short` if the password has fewer than 8 characters.
 * @throws {RangeError} If `params` are out of bounds or the salt is shorter than 16 bytes.
 */
export async function deriveMasterKey(
  password: string,
  salt: Uint8Array,
  params: KdfParams,
): Promise<Uint8Array> {
  if (typeof password !== "string") throw new TypeError("password must be a string");
  if (!(salt instanceof Uint8Array)) throw new TypeError("salt must be a Uint8Array");
  if (salt.length < SALT_BYTES) {
    throw new RangeError(`salt must be at least ${SALT_BYTES} bytes, got ${salt.length}`);
  }
  const problem = kdfParamsProblem(params);
  if (problem) throw new RangeError(`invalid KDF parameters: ${problem}`);
  const normalised = password.normalize("NFC");
  if ([...normalised].length < MIN_PASSWORD_CHARS) {
    throw new AuthError(
      "password_too_short",
      `the password must have at least ${MIN_PASSWORD_CHARS} characters`,
      { hint: "choose a longer password; a few unrelated words work well" },
    );
  }
  const { N, r, p } = params;
  // node refuses to run above maxmem (default 32 MiB); allow what these parameters need.
  const maxmem = 128 * N * r + 128 * r * p + 2 ** 20;
  const key = await new Promise<Uint8Array>((resolve, reject) => {
    scrypt(utf8(normalised), salt, KEY_BYTES, { N, r, p, maxmem }, (error, derived) => {
      if (error) reject(error);
      else resolve(new Uint8Array(derived));
    });
  });
  return key;
}

/** The two keys derived from the master key. */
export interface SplitKeys {
  /** Proves knowledge of the password to the server; the server may see it. */
  authKey: Uint8Array;
  /** Encrypts the identity-key backup; never leaves the client. */
  wrapKey: Uint8Array;
}

/**
 * Splits the master key into independent auth and wrap keys (HKDF-SHA-256,
 * distinct info strings). Knowing `authKey`, as the server does, reveals
 * nothing about `wrapKey`.
 *
 * @throws {RangeError} If `master` is not 32 bytes.
 */
export function splitMasterKey(master: Uint8Array): SplitKeys {
  checkKey(master, "master key");
  const empty = new Uint8Array(0);
  return {
    authKey: hkdfSha256(master, empty, utf8("ssp/1 auth key"), KEY_BYTES),
    wrapKey: hkdfSha256(master, empty, utf8("ssp/1 wrap key"), KEY_BYTES),
  };
}

/**
 * What the server stores instead of the auth key: HMAC-SHA-256 keyed by a
 * per-account random salt over `authKey`.
 *
 * No memory-hard hash is needed here. Slow hashes exist to make guessing a
 * low-entropy secret expensive, but `authKey` is a uniformly random 256-bit
 * value: nobody can enumerate it, and HMAC is one-way, so a stolen verifier
 * does not yield an auth key to log in with. The expensive step, scrypt, runs
 * once on the client, and it is what an attacker holding a stolen verifier
 * must repeat for every password guessed. The salt keeps equal auth keys from
 * showing as equal verifiers across accounts or servers.
 *
 * @throws {RangeError} If `authKey` is not 32 bytes or `verifierSalt` is shorter than 16.
 */
export function verifierOf(authKey: Uint8Array, verifierSalt: Uint8Array): Uint8Array {
  checkKey(authKey, "auth key");
  if (!(verifierSalt instanceof Uint8Array)) throw new TypeError("verifierSalt must be bytes");
  if (verifierSalt.length < SALT_BYTES) {
    throw new RangeError(`verifier salt must be at least ${SALT_BYTES} bytes`);
  }
  return hmacSha256(verifierSalt, authKey);
}

/**
 * Whether `authKey` matches the stored `verifier`, compared in constant time.
 * Never throws on a malformed auth key from the network; that is simply `false`.
 */
export function checkVerifier(
  authKey: Uint8Array,
  verifierSalt: Uint8Array,
  verifier: Uint8Array,
): boolean {
  if (!(authKey instanceof Uint8Array) || authKey.length !== KEY_BYTES) return false;
  return constantTimeEqual(verifierOf(authKey, verifierSalt), verifier);
}

/**
 * The salt the server answers for a phone number it does not know: the
 * first 16 bytes of HMAC-SHA-256(serverSecret, "ssp/1 fake salt\0" || phone).
 *
 * It is deterministic, so asking twice returns the same salt, as it would
 * for a real account, and an observer cannot tell registered numbers from
 * unregistered ones by their salts.
 *
 * @throws {RangeError} If `serverSecret` is shorter than 32 bytes.
 */
export function fakeSaltFor(serverSecret: Uint8Array, phone: string): Uint8Array {
  if (!(serverSecret instanceof Uint8Array)) throw new TypeError("serverSecret must be bytes");
  if (serverSecret.length < KEY_BYTES) {
    throw new RangeError(`serverSecret must be at least ${KEY_BYTES} bytes`);
  }
  return hmacSha256(serverSecret, utf8("ssp/1 fake salt\0" + phone)).slice(0, SALT_BYTES);
}

/** Why `value` is not acceptable KDF parameters, or `undefined` if it is. */
function kdfParamsProblem(value: unknown): string | undefined {
  const result = kdfParamsSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    return `${issue?.path.join(".") || "value"}: ${issue?.message ?? "invalid"}`;
  }
  const { N, r, p } = result.data;
  const log2 = Math.log2(N);
  if (!Number.isInteger(log2) || log2 < MIN_N_LOG2 || log2 > MAX_N_LOG2) {
    return `N must be a power of two from 2^${MIN_N_LOG2} to 2^${MAX_N_LOG2}, got ${N}`;
  }
  const work = N * r * p;
  if (work < MIN_WORK) return `N·r·p = ${work} is below the minimum ${MIN_WORK}`;
  if (work > MAX_WORK) return `N·r·p = ${work} is above the maximum ${MAX_WORK}`;
  return undefined;
}

function rejected(problem: string, cause?: unknown): AuthError {
  return new AuthError("kdf_params_rejected", `the server sent unsafe KDF parameters: ${problem}`, {
    hint: "the server may be misconfigured or malicious; do not enter your password there",
    cause,
  });
}

function checkKey(key: Uint8Array, name: string): void {
  if (!(key instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (key.length !== KEY_BYTES) {
    throw new RangeError(`${name} must be ${KEY_BYTES} bytes, got ${key.length}`);
  }
}
