/**
 * Diffie-Hellman parameters in the PKCS #3 format that `openssl dhparam` reads and writes:
 *
 * ```text
 * -----BEGIN DH PARAMETERS-----
 * base64 of DER  DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER }
 * -----END DH PARAMETERS-----
 * ```
 *
 * The DER codec handles exactly that structure and nothing else, and it is strict: every
 * length must be minimal and match the bytes present, integers must be positive and minimally
 * encoded, and nothing may follow the SEQUENCE. The optional PKCS #3 `privateValueLength`
 * field is refused rather than ignored, since ssp would not honour it. These functions only
 * parse; whether the numbers make a safe group is `validateGroupParameters()` in `dh.ts`.
 *
 * @module
 */
import { concatBytes, fromHex, toHex } from "../bytes.ts";
import { DhError } from "../errors.ts";

/** A prime modulus p and generator g, as stored in a DH parameters file. */
export interface DhParams {
  /** The prime modulus. */
  readonly p: bigint;
  /** The generator. */
  readonly g: bigint;
}

const PEM_LABEL = "DH PARAMETERS";
const TAG_SEQUENCE = 0x30;
const TAG_INTEGER = 0x02;
/** Longest DER length accepted: two length bytes cover 500 000-bit primes, plenty. */
const MAX_LENGTH_BYTES = 2;

function derError(message: string): DhError {
  return new DhError("dhparam_bad_der", `DH parameters are malformed: ${message}`, {
    hint: "Regenerate the file with `openssl dhparam -out FILE 2048`.",
  });
}

function derLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  throw new RangeError(`DER length ${length} is too large`);
}

function derInteger(n: bigint): Uint8Array {
  if (n <= 0n) throw new RangeError("DH parameters must be positive integers");
  let hex = n.toString(16);
  if (hex.length % 2 === 1) hex = "0" + hex;
  // A leading 0x00 keeps the two's complement value positive when the top bit is set.
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = "00" + hex;
  const body = fromHex(hex);
  return concatBytes(Uint8Array.of(TAG_INTEGER), derLength(body.length), body);
}

/** DER encoding of `SEQUENCE { INTEGER p, INTEGER g }`. Throws `RangeError` if p or g ≤ 0. */
export function encodeDhParamsDer(p: bigint, g: bigint): Uint8Array {
  const body = concatBytes(derInteger(p), derInteger(g));
  return concatBytes(Uint8Array.of(TAG_SEQUENCE), derLength(body.length), body);
}

/**
 * Reads one tag-length-value at `offset` that must end by `limit` (the end of the enclosing
 * element); returns the value's bounds.
 */
function readTlv(der: Uint8Array, offset: number, limit: number, tag: number, what: string) {
  if (offset >= limit) throw derError(`${what} is missing`);
  if (der[offset] !== tag) {
    throw derError(
      `expected ${what} (tag 0x${tag.toString(16).padStart(2, "0")}), found tag 0x${
        der[offset]!.toString(16).padStart(2, "0")
      }`,
    );
  }
  if (offset + 1 >= limit) throw derError(`${what} has no length`);
  const first = der[offset + 1]!;
  let start = offset + 2;
  let length = first;
  if (first === 0x80) throw derError(`${what} uses an indefinite length, which DER forbids`);
  if (first > 0x80) {
    const count = first & 0x7f;
    if (count > MAX_LENGTH_BYTES) throw derError(`${what} has a ${count}-byte length field`);
    if (start + count > limit) throw derError(`${what} length is truncated`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    if (length < 0x80 || der[start] === 0) throw derError(`${what} length is not minimal`);
    start += count;
  }
  const end = start + length;
  if (end > limit) {
    throw derError(`${what} claims ${length} bytes but only ${limit - start} remain`);
  }
  return { start, end };
}

function readInteger(der: Uint8Array, offset: number, limit: number, what: string) {
  const { start, end } = readTlv(der, offset, limit, TAG_INTEGER, what);
  if (start === end) throw derError(`${what} is empty`);
  const first = der[start]!;
  if (first >= 0x80) throw derError(`${what} is negative`);
  if (first === 0 && end - start > 1 && der[start + 1]! < 0x80) {
    throw derError(`${what} has a redundant leading zero byte`);
  }
  return { value: BigInt("0x" + toHex(der.subarray(start, end))), end };
}

/** Decodes DER `SEQUENCE { INTEGER p, INTEGER g }`; throws `DhError` on anything else. */
export function decodeDhParamsDer(der: Uint8Array): DhParams {
  const seq = readTlv(der, 0, der.length, TAG_SEQUENCE, "the SEQUENCE");
  if (seq.end !== der.length) {
    throw derError(`${der.length - seq.end} unexpected bytes follow the SEQUENCE`);
  }
  const p = readInteger(der, seq.start, seq.end, "the prime");
  const g = readInteger(der, p.end, seq.end, "the generator");
  if (g.end !== seq.end) {
    throw derError(
      "the SEQUENCE holds more than a prime and a generator " +
        "(a privateValueLength field is not supported)",
    );
  }
  if (p.value === 0n) throw derError("the prime is zero");
  if (g.value === 0n) throw derError("the generator is zero");
  return { p: p.value, g: g.value };
}

function pemError(message: string): DhError {
  return new DhError("dhparam_bad_pem", message, {
    hint: "Expected a PEM block `-----BEGIN DH PARAMETERS-----` as written by `openssl dhparam`.",
  });
}

/** PEM text of the parameters, 64 base64 characters per line, as `openssl dhparam` writes. */
export function encodeDhParamsPem(p: bigint, g: bigint): string {
  const der = encodeDhParamsDer(p, g);
  let binary = "";
  for (const b of der) binary += String.fromCharCode(b);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${PEM_LABEL}-----\n${lines.join("\n")}\n-----END ${PEM_LABEL}-----\n`;
}

/**
 * Decodes the single `DH PARAMETERS` PEM block in `text`. Text outside the block is ignored,
 * as OpenSSL does (`openssl dhparam -text` writes a dump above it); a second block, a bad
 * base64 body or bad DER is a `DhError`.
 */
export function decodeDhParamsPem(text: string): DhParams {
  const begin = `-----BEGIN ${PEM_LABEL}-----`;
  const end = `-----END ${PEM_LABEL}-----`;
  const first = text.indexOf(begin);
  if (first < 0) {
    if (text.includes("-----BEGIN X9.42 DH PARAMETERS-----")) {
      throw pemError("X9.42 DH parameters are not supported; ssp needs PKCS #3 DH PARAMETERS");
    }
    throw pemError("no `-----BEGIN DH PARAMETERS-----` line found");
  }
  if (text.indexOf(begin, first + begin.length) >= 0) {
    throw pemError("more than one DH PARAMETERS block found");
  }
  const last = text.indexOf(end, first);
  if (last < 0) throw pemError("the DH PARAMETERS block has no END line");
  const body = text.slice(first + begin.length, last).replace(/[ \t\r\n]/g, "");
  if (body.length === 0 || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw pemError("the DH PARAMETERS block is not valid base64");
  }
  const binary = atob(body);
  const der = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return decodeDhParamsDer(der);
}
