/**
 * The one boundary of ssp's AEADs (ChaCha20-Poly1305, RFC 8439, and
 * AES-256-GCM): every length and every buffer is checked here, once, before
 * an implementation sees it. Two implementations sit behind it:
 *
 * - `openssl`: the system's libcrypto 3 through Deno's FFI, sealing and
 *   opening straight into the caller's arrays (`_aead_openssl.ts`);
 * - `node`: `node:crypto`, the fallback when libcrypto cannot be loaded
 *   (no `--allow-ffi`, no libcrypto 3, or `SSP_LIBCRYPTO=none`).
 *
 * {@linkcode aeadBackend} picks one on first use and keeps it; both give the
 * same bytes (a differential test checks it), so peers never notice.
 *
 * @module
 */
import { nodeAead } from "./_aead_node.ts";
import { loadOpensslAead } from "./_aead_openssl.ts";
import { AEAD_SUITES, type AeadPrimitive, type AeadSuite } from "./_aead_types.ts";
import { RecordError } from "../errors.ts";

export { AEAD_SUITES, type AeadSuite };

/** Key length of both suites, in bytes. */
export const KEY_BYTES = 32;
/** Nonce length of both suites (RFC 8439 §2.8, NIST SP 800-38D's 96-bit IV), in bytes. */
export const NONCE_BYTES = 12;
/** Tag length of both suites, in bytes. */
export const TAG_BYTES = 16;
/**
 * Largest message (and largest associated data) one call takes: OpenSSL's
 * EVP API counts in C `int`s. ssp's records and chunks stay far below it.
 */
export const MAX_AEAD_BYTES = 2 ** 31 - 1;
/**
 * The library name the dynamic loader resolves when `SSP_LIBCRYPTO` is unset,
 * on Linux. Elsewhere there is no name that is safe to guess (macOS's
 * /usr/lib/libcrypto.dylib is LibreSSL and aborts a process that loads it), so
 * ssp uses libcrypto there only when `SSP_LIBCRYPTO` names it.
 */
export const DEFAULT_LIBCRYPTO = "libcrypto.so.3";

/** Which implementation runs, and why. */
export interface AeadBackendInfo {
  /** `openssl` (libcrypto through FFI) or `node` (node:crypto). */
  name: "openssl" | "node";
  /** The library's version for `openssl`; why libcrypto is not used for `node`. */
  detail: string;
  /** Whether AES-GCM runs on hardware AES instructions (only known for `openssl`). */
  hardwareAes: boolean;
}

/**
 * An AEAD implementation behind argument checks. Sealing and opening write
 * into arrays the caller owns; nothing is allocated per call.
 */
export class AeadBackend {
  readonly info: Readonly<AeadBackendInfo>;
  readonly #primitive: AeadPrimitive;

  /** Wraps `primitive`; only this module and its tests build backends. */
  constructor(primitive: AeadPrimitive, info: AeadBackendInfo) {
    this.#primitive = primitive;
    this.info = Object.freeze({ ...info });
  }

  /**
   * Encrypts a message given in pieces: `plaintext[i]` into `ciphertext[i]`
   * (same length; the same array to encrypt in place), then writes the tag.
   * The ciphertext pieces joined are the sealing of the plaintext joined.
   *
   * @throws {TypeError} If an argument is not a `Uint8Array`, or a list not an array.
   * @throws {RangeError} On a wrong key, nonce or tag length, output pieces
   *   that do not match the input pieces, outputs that partly overlap an
   *   input or each other, or more than MAX_AEAD_BYTES.
   */
  sealInto(
    suite: AeadSuite,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: readonly Uint8Array[],
    ciphertext: readonly Uint8Array[],
    tag: Uint8Array,
  ): void {
    checkCall(suite, key, nonce, aad, plaintext, ciphertext, tag, "plaintext", "ciphertext");
    this.#primitive.seal(suite, key, nonce, aad, plaintext, ciphertext, tag);
  }

  /**
   * Verifies and decrypts a message given in pieces into `plaintext[i]`
   * (same length as `ciphertext[i]`; the same array to decrypt in place).
   * On failure every output piece is wiped before the error is thrown, so
   * the caller never holds unauthenticated plaintext.
   *
   * @throws {RecordError} `record_auth_failed` if the tag does not verify.
   * @throws {TypeError} / {RangeError} As {@linkcode sealInto}.
   */
  openInto(
    suite: AeadSuite,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: readonly Uint8Array[],
    tag: Uint8Array,
    plaintext: readonly Uint8Array[],
  ): void {
    checkCall(suite, key, nonce, aad, ciphertext, plaintext, tag, "ciphertext", "plaintext");
    let ok = false;
    try {
      ok = this.#primitive.open(suite, key, nonce, aad, ciphertext, tag, plaintext);
    } finally {
      if (!ok) { for (const piece of plaintext) piece.fill(0); }
    }
    if (!ok) throw authFailed();
  }
}

/** The error of a message that does not verify. */
export function authFailed(cause?: unknown): RecordError {
  return new RecordError(
    "record_auth_failed",
    "a record failed authentication: it was forged, corrupted, replayed or reordered",
    { hint: "the connection is not trustworthy; reconnect", cause },
  );
}

/** node:crypto's implementation, always available. */
export const NODE_BACKEND: AeadBackend = new AeadBackend(nodeAead, {
  name: "node",
  detail: "node:crypto",
  hardwareAes: false,
});

/**
 * Loads libcrypto through FFI. Never prompts for a permission: without a
 * granted `--allow-ffi` for `path` it returns the reason instead.
 *
 * @returns The backend, or a sentence saying why libcrypto cannot be used.
 */
export function loadOpensslBackend(path: string = DEFAULT_LIBCRYPTO): AeadBackend | string {
  if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") {
    return `no --allow-ffi permission for ${path}`;
  }
  try {
    const loaded = loadOpensslAead(path);
    return new AeadBackend(loaded.primitive, {
      name: "openssl",
      detail: `${loaded.version} (${path})`,
      hardwareAes: loaded.hardwareAes,
    });
  } catch (error) {
    return `cannot load ${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

let active: AeadBackend | undefined;

/**
 * The backend this process uses, chosen on first call: libcrypto (from
 * `SSP_LIBCRYPTO` if set, else {@linkcode DEFAULT_LIBCRYPTO}) when it loads,
 * else node:crypto, with the reason in `info.detail`. `SSP_LIBCRYPTO=none`
 * forces node:crypto.
 */
export function aeadBackend(): AeadBackend {
  if (active) return active;
  const setting = readSetting();
  if (setting === "none") {
    active = withDetail(NODE_BACKEND, "node:crypto (SSP_LIBCRYPTO=none)");
    return active;
  }
  if (setting === undefined && Deno.build.os !== "linux") {
    active = withDetail(
      NODE_BACKEND,
      `node:crypto (on ${Deno.build.os}, set SSP_LIBCRYPTO to the path of libcrypto 3)`,
    );
    return active;
  }
  const loaded = loadOpensslBackend(setting ?? DEFAULT_LIBCRYPTO);
  active = typeof loaded === "string"
    ? withDetail(NODE_BACKEND, `node:crypto (${loaded})`)
    : loaded;
  return active;
}

/**
 * Record suites this process offers or accepts, best first: AES-256-GCM
 * only with libcrypto on hardware AES (fast and constant-time there), then
 * the mandatory ChaCha20-Poly1305.
 */
export function preferredSuites(backend: AeadBackend = aeadBackend()): AeadSuite[] {
  return backend.info.name === "openssl" && backend.info.hardwareAes
    ? ["aes-256-gcm", "chacha20-poly1305"]
    : ["chacha20-poly1305"];
}

function readSetting(): string | undefined {
  const name = "SSP_LIBCRYPTO";
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? undefined : value;
}

function withDetail(backend: AeadBackend, detail: string): AeadBackend {
  return new AeadBackend(nodeAead, { ...backend.info, detail });
}

/**
 * Checks the suite, key, nonce and associated data of a call, as
 * {@linkcode AeadBackend.sealInto} does: for a caller that refuses a message
 * before calling it (e.g. one shorter than a tag) but must still report misuse.
 *
 * @throws {TypeError} If an argument is not a `Uint8Array`.
 * @throws {RangeError} On an unknown suite or a wrong length.
 */
export function checkAeadArguments(
  suite: AeadSuite,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
): void {
  if (!AEAD_SUITES.includes(suite)) throw new RangeError(`unknown AEAD suite ${String(suite)}`);
  checkBytes(key, "key");
  checkBytes(nonce, "nonce");
  checkBytes(aad, "aad");
  if (key.length !== KEY_BYTES) {
    throw new RangeError(`key must be ${KEY_BYTES} bytes, got ${key.length}`);
  }
  if (nonce.length !== NONCE_BYTES) {
    throw new RangeError(`nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`);
  }
  if (aad.length > MAX_AEAD_BYTES) {
    throw new RangeError(`aad must be at most ${MAX_AEAD_BYTES} bytes, got ${aad.length}`);
  }
}

function checkCall(
  suite: AeadSuite,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  inputs: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
  tag: Uint8Array,
  inputName: string,
  outputName: string,
): void {
  checkAeadArguments(suite, key, nonce, aad);
  checkBytes(tag, "tag");
  if (tag.length !== TAG_BYTES) {
    throw new RangeError(`tag must be ${TAG_BYTES} bytes, got ${tag.length}`);
  }
  if (!Array.isArray(inputs) || !Array.isArray(outputs)) {
    throw new TypeError(`${inputName} and ${outputName} must be arrays of Uint8Array`);
  }
  if (inputs.length !== outputs.length) {
    throw new RangeError(
      `${outputName} has ${outputs.length} pieces for ${inputs.length} ${inputName} pieces`,
    );
  }
  let total = 0;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i], output = outputs[i];
    checkBytes(input, inputName);
    checkBytes(output, outputName);
    if (input.length !== output.length) {
      throw new RangeError(
        `${outputName} piece ${i} is ${output.length} bytes for ${input.length} bytes of ${inputName}`,
      );
    }
    total += input.length;
  }
  if (total > MAX_AEAD_BYTES) {
    throw new RangeError(`a message must be at most ${MAX_AEAD_BYTES} bytes, got ${total}`);
  }
  // Ownership: an output is written while inputs are still being read, so it
  // may only be its own input exactly (in place) or touch nothing else read or
  // written in this call. The tag is read (open) or written (seal) separately.
  for (let i = 0; i < outputs.length; i++) {
    const output = outputs[i]!;
    if (output.length === 0) continue;
    for (let j = 0; j < inputs.length; j++) {
      if (overlaps(output, inputs[j]!) && !(i === j && sameRange(output, inputs[j]!))) {
        throw new RangeError(`${outputName} piece ${i} overlaps ${inputName} piece ${j}`);
      }
    }
    for (let j = i + 1; j < outputs.length; j++) {
      if (overlaps(output, outputs[j]!)) {
        throw new RangeError(`${outputName} pieces ${i} and ${j} overlap`);
      }
    }
    if (overlaps(output, tag)) throw new RangeError(`${outputName} piece ${i} overlaps the tag`);
  }
  for (const [value, name] of [[key, "key"], [nonce, "nonce"], [aad, "aad"]] as const) {
    if (overlaps(tag, value)) throw new RangeError(`the tag overlaps the ${name}`);
    for (let i = 0; i < outputs.length; i++) {
      if (overlaps(outputs[i]!, value)) {
        throw new RangeError(`${outputName} piece ${i} overlaps the ${name}`);
      }
    }
  }
}

function checkBytes(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === 0 || b.length === 0 || a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

function sameRange(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length;
}
