/**
 * The end-to-end message envelope: what a client hands the server to deliver,
 * and all the server ever sees of a message.
 *
 * Sealing, for content C sent by `from` to `to`:
 *
 * 1. header = MessagePack [1, id, from, to, timestamp]
 * 2. a fresh 32-byte content key K;
 *    body = ChaCha20-Poly1305(K, nonce = 12 zero bytes, aad = header, MessagePack(C))
 * 3. for each recipient, and for the sender's own key so its other devices can
 *    read the history: (enc, key) = HPKE-Seal(recipient key, info = "ssp/1 content key",
 *    aad = header, K)
 * 4. signed = MessagePack [1, id, from, to, timestamp, body, [{phone, enc, key}, …]]
 * 5. sig = Ed25519(sender's key, "ssp/1 envelope\0" || signed)
 * 6. wire = MessagePack {s: signed, sig}
 *
 * The signature covers every byte but itself, so the server can neither
 * forge a sender, nor add, drop or swap recipients, bodies or wrapped keys.
 * It is checked against the exact bytes received, before anything in them
 * is decrypted or believed, and against the sender's pinned key, not one the
 * server supplies. The envelope does not protect against the server
 * replaying or withholding whole envelopes: clients drop repeated ids.
 *
 * @module
 */
import { Decoder, encode } from "@msgpack/msgpack";
import { z } from "zod";
import { concatBytes, utf8 } from "../bytes.ts";
import { bytes, uint } from "../wire/mod.ts";
import { EnvelopeError } from "../errors.ts";
import {
  MAX_ENVELOPE_BYTES,
  MAX_RECIPIENTS,
  messageId as idSchema,
  phone as phoneSchema,
} from "../protocol/mod.ts";
import {
  chacha20Poly1305Open,
  chacha20Poly1305Seal,
  KEY_BYTES,
  NONCE_BYTES,
  sign,
  TAG_BYTES,
  verify,
} from "../crypto/mod.ts";
import { type Content, decodeContent, encodeContent } from "./content.ts";
import { HPKE_PUBLIC_KEY_BYTES, HPKE_TAG_BYTES, hpkeOpen, hpkeSeal } from "./hpke.ts";

/** The envelope format version, the first element of the signed array. */
export const ENVELOPE_VERSION = 1;

const SIGNATURE_CONTEXT = utf8("ssp/1 envelope\0");
const CONTENT_KEY_INFO = utf8("ssp/1 content key");
const WRAPPED_KEY_BYTES = KEY_BYTES + HPKE_TAG_BYTES;

/** One recipient's copy of the content key, HPKE-sealed to its encryption key. */
export interface WrappedKey {
  /** Whose key this is (E.164). */
  readonly phone: string;
  /** HPKE encapsulated key. */
  readonly enc: Uint8Array;
  /** HPKE ciphertext of the content key. */
  readonly key: Uint8Array;
}

/** Who may open an envelope: a phone number and its published X25519 key. */
export interface EnvelopeRecipient {
  /** The recipient's number, E.164. */
  phone: string;
  /** The recipient's raw 32-byte X25519 public key. */
  encryptionKey: Uint8Array;
}

/** Input to {@linkcode sealEnvelope}. */
export interface SealEnvelopeOptions {
  /** 32 lowercase hex digits, from `newMessageId()` (lib/protocol/common.ts). */
  id: string;
  /** The sender's number, E.164. */
  from: string;
  /** The recipients' numbers, E.164, no repeats. */
  to: readonly string[];
  /** When the message was written, in ms since the epoch (the sender's claim). */
  timestamp: number;
  /** What to send. */
  content: Content;
  /** The sender's Ed25519 private key, PKCS #8. */
  signingKey: Uint8Array;
  /** A key for every number in `to` and for `from`, each number exactly once. */
  recipients: readonly EnvelopeRecipient[];
  /** Size limit; defaults to `MAX_ENVELOPE_BYTES` (lib/protocol/messaging.ts). */
  maxBytes?: number;
}

/**
 * An envelope as parsed from the wire: well-formed, but nothing in it is
 * trusted until {@linkcode openEnvelope} has checked the signature.
 */
export interface ParsedEnvelope {
  /** Format version, always {@linkcode ENVELOPE_VERSION}. */
  readonly version: 1;
  /** The envelope id, 32 lowercase hex digits. */
  readonly id: string;
  /** The claimed sender. */
  readonly from: string;
  /** The claimed recipients. */
  readonly to: readonly string[];
  /** The claimed time of writing, ms since the epoch. */
  readonly timestamp: number;
  /** The encrypted content. */
  readonly body: Uint8Array;
  /** The wrapped content keys, one per number in `to` and `from`. */
  readonly keys: readonly WrappedKey[];
  /** The exact signed bytes received. */
  readonly signed: Uint8Array;
  /** The Ed25519 signature over the signed bytes. */
  readonly signature: Uint8Array;
}

/** What {@linkcode openEnvelope} needs from the reader. */
export interface OpenEnvelopeOptions {
  /** The reader's own number. */
  phone: string;
  /** The reader's raw 32-byte X25519 private key. */
  encryptionPrivateKey: Uint8Array;
  /** The signing key pinned for `parsed.from`, never one taken from the envelope's server. */
  senderSigningKey: Uint8Array;
}

const wrappedKeySchema = z.strictObject({
  phone: phoneSchema,
  enc: bytes(HPKE_PUBLIC_KEY_BYTES),
  key: bytes(WRAPPED_KEY_BYTES),
});

const signedSchema = z.tuple([
  z.literal(ENVELOPE_VERSION),
  idSchema,
  phoneSchema,
  z.array(phoneSchema).min(1).max(MAX_RECIPIENTS),
  uint(),
  // Upper bounds on these byte strings come from the decoder's maxBinLength.
  bytes(TAG_BYTES, Number.MAX_SAFE_INTEGER),
  z.array(wrappedKeySchema).min(1).max(MAX_RECIPIENTS + 1),
]);

const wireSchema = z.strictObject({ s: bytes(1, Number.MAX_SAFE_INTEGER), sig: bytes(64) });

/**
 * Encrypts and signs `options.content` for `options.recipients`.
 *
 * @returns The envelope's wire bytes.
 * @throws {EnvelopeError} `too_large` if the envelope (or a text) is over the limit;
 *   `bad_recipient_key` if a recipient's key is unusable.
 * @throws {TypeError} If a field is malformed, or the recipients do not cover
 *   exactly `to` and `from`.
 */
export async function sealEnvelope(options: SealEnvelopeOptions): Promise<Uint8Array> {
  const { id, from, to, timestamp, content, signingKey, recipients } = options;
  const maxBytes = checkMaxBytes(options.maxBytes);
  check(idSchema, id, "id");
  check(phoneSchema, from, "from");
  check(z.array(phoneSchema).min(1).max(MAX_RECIPIENTS), to, "to");
  check(uint(), timestamp, "timestamp");
  if (!(signingKey instanceof Uint8Array)) throw new TypeError("signingKey must be a Uint8Array");
  for (const r of recipients) {
    check(phoneSchema, r.phone, "recipient phone");
    check(bytes(HPKE_PUBLIC_KEY_BYTES), r.encryptionKey, `encryption key of ${r.phone}`);
  }
  const coverage = coverageProblem(from, to, recipients.map((r) => r.phone));
  if (coverage) throw new TypeError(coverage);

  const plaintext = encodeContent(content);
  if (plaintext.length > maxBytes) throw tooLarge(plaintext.length, maxBytes);

  const header = encodeHeader(id, from, to, timestamp);
  // A fresh random key per envelope encrypts exactly one message, so the fixed zero
  // nonce never repeats under a key.
  const contentKey = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const body = chacha20Poly1305Seal(contentKey, new Uint8Array(NONCE_BYTES), header, plaintext);
  let keys: WrappedKey[];
  try {
    keys = await Promise.all(recipients.map(async (r) => {
      const { enc, ciphertext } = await hpkeSeal(
        r.encryptionKey,
        CONTENT_KEY_INFO,
        header,
        contentKey,
      );
      return { phone: r.phone, enc, key: ciphertext };
    }));
  } finally {
    contentKey.fill(0);
  }
  const signed = encode([ENVELOPE_VERSION, id, from, [...to], timestamp, body, keys]);
  let sig: Uint8Array;
  try {
    sig = await sign(signingKey, concatBytes(SIGNATURE_CONTEXT, signed));
  } catch (cause) {
    throw new TypeError("signingKey is not an Ed25519 PKCS #8 private key", { cause });
  }
  const wire = encode({ s: signed, sig });
  if (wire.length > maxBytes) throw tooLarge(wire.length, maxBytes);
  return wire;
}

/**
 * Parses an envelope's wire bytes and checks its shape: sizes, E.164
 * numbers, id format, and one wrapped key for each of `to` and `from`.
 * Checks no signature: see {@linkcode openEnvelope}.
 *
 * @param options.maxBytes Size limit; defaults to `MAX_ENVELOPE_BYTES` (lib/protocol/messaging.ts).
 * @throws {EnvelopeError} `too_large`, `unsupported_version` or `malformed`.
 */
export function parseEnvelope(
  wire: Uint8Array,
  options: { maxBytes?: number } = {},
): ParsedEnvelope {
  const maxBytes = checkMaxBytes(options.maxBytes);
  if (!(wire instanceof Uint8Array)) throw new TypeError("envelope must be a Uint8Array");
  if (wire.length > maxBytes) throw tooLarge(wire.length, maxBytes);
  const outer = decodeWith(wireSchema, wire, maxBytes, "envelope");
  // Copied so that a caller reusing its read buffer cannot change a parsed envelope.
  const signed = outer.s.slice();
  const signature = outer.sig.slice();
  return Object.freeze({ ...decodeSigned(signed, maxBytes), signed, signature });
}

/**
 * Verifies and decrypts an envelope addressed to `options.phone`.
 *
 * In order: the signature over the exact signed bytes, against the pinned
 * key of the sender; that the reader is a recipient; then the content key
 * and the body. Nothing is returned unless every step passes.
 *
 * @throws {EnvelopeError} `bad_signature`, `not_a_recipient`, `decrypt_failed`,
 *   `bad_content` or `unsupported_content`.
 */
export async function openEnvelope(
  parsed: ParsedEnvelope,
  options: OpenEnvelopeOptions,
): Promise<Content> {
  const { phone, encryptionPrivateKey, senderSigningKey } = options;
  // The signature is checked first, over the exact bytes received. Everything after it is
  // read back from those signed bytes, not from the other fields of `parsed`, so only what
  // the signature covers is ever used.
  const message = concatBytes(SIGNATURE_CONTEXT, parsed.signed);
  if (!(await verify(senderSigningKey, message, parsed.signature))) {
    throw new EnvelopeError("bad_signature", `signature does not match ${parsed.from}'s key`, {
      hint: `the message was forged or altered in transit; if ${parsed.from} re-registered, ` +
        "compare safety numbers before trusting the new key",
    });
  }
  const claimed = decodeSigned(parsed.signed, Number.MAX_SAFE_INTEGER);
  const mine = claimed.keys.find((k) => k.phone === phone);
  if (!mine) {
    throw new EnvelopeError("not_a_recipient", `the message was not encrypted for ${phone}`);
  }
  const header = encodeHeader(claimed.id, claimed.from, claimed.to, claimed.timestamp);
  const contentKey = await hpkeOpen(
    encryptionPrivateKey,
    mine.enc,
    CONTENT_KEY_INFO,
    header,
    mine.key,
  );
  let plaintext: Uint8Array;
  try {
    plaintext = chacha20Poly1305Open(contentKey, new Uint8Array(NONCE_BYTES), header, claimed.body);
  } catch (cause) {
    throw new EnvelopeError("decrypt_failed", "cannot decrypt the message body", { cause });
  } finally {
    contentKey.fill(0);
  }
  return decodeContent(plaintext);
}

type SignedFields = Omit<ParsedEnvelope, "signed" | "signature">;

function decodeSigned(signed: Uint8Array, maxBytes: number): SignedFields {
  const value = decodeWith(z.unknown(), signed, maxBytes, "signed envelope");
  if (!Array.isArray(value) || value.length === 0) throw malformed("not an array");
  if (value[0] !== ENVELOPE_VERSION) {
    throw new EnvelopeError(
      "unsupported_version",
      `envelope version ${JSON.stringify(value[0])} is not supported`,
      { hint: "the sender may use a newer ssp; update ssp" },
    );
  }
  const result = signedSchema.safeParse(value);
  if (!result.success) throw malformed(issueText(result.error));
  const [, id, from, to, timestamp, body, keys] = result.data;
  const coverage = coverageProblem(from, to, keys.map((k) => k.phone));
  if (coverage) throw malformed(coverage);
  return {
    version: ENVELOPE_VERSION,
    id,
    from,
    to: Object.freeze(to),
    timestamp,
    body,
    keys: Object.freeze(keys.map((k) => Object.freeze(k))),
  };
}

/** The AEAD associated data of the body and of every wrapped key. */
function encodeHeader(id: string, from: string, to: readonly string[], timestamp: number) {
  // MessagePack as @msgpack/msgpack writes it: the shortest form of each value, so the
  // reader's re-encoding of the (signed, hence authentic) fields gives the same bytes.
  return encode([ENVELOPE_VERSION, id, from, [...to], timestamp]);
}

/**
 * Why the wrapped keys do not match the addressees, or `undefined` if each
 * number of `to` and `from` has exactly one key and no other number has one.
 */
function coverageProblem(
  from: string,
  to: readonly string[],
  keyPhones: readonly string[],
): string | undefined {
  if (new Set(to).size !== to.length) return "`to` repeats a number";
  const expected = new Set([...to, from]);
  const seen = new Set<string>();
  for (const phone of keyPhones) {
    if (seen.has(phone)) return `two keys for ${phone}`;
    if (!expected.has(phone)) return `a key for ${phone}, who is neither sender nor recipient`;
    seen.add(phone);
  }
  for (const phone of expected) if (!seen.has(phone)) return `no key for ${phone}`;
  return undefined;
}

function decodeWith<T>(schema: z.ZodType<T>, data: Uint8Array, maxBytes: number, what: string): T {
  const decoder = new Decoder({
    maxStrLength: 64,
    maxBinLength: maxBytes,
    maxArrayLength: MAX_RECIPIENTS + 1,
    maxMapLength: 4,
    maxExtLength: 0,
  });
  let value: unknown;
  try {
    value = decoder.decode(data);
  } catch (cause) {
    throw malformed(`${what} is not valid MessagePack`, cause);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw malformed(`${what}: ${issueText(result.error)}`);
  return result.data;
}

function check<T>(schema: z.ZodType<T>, value: unknown, name: string): void {
  const result = schema.safeParse(value);
  if (!result.success) throw new TypeError(`invalid ${name}: ${issueText(result.error)}`);
}

function checkMaxBytes(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return MAX_ENVELOPE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  }
  return maxBytes;
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return `${path}${issue?.message ?? "invalid"}`;
}

function tooLarge(size: number, limit: number): EnvelopeError {
  return new EnvelopeError("too_large", `the envelope is ${size} bytes; the limit is ${limit}`, {
    hint: "send a shorter message",
  });
}

function malformed(problem: string, cause?: unknown): EnvelopeError {
  return new EnvelopeError("malformed", `malformed envelope: ${problem}`, { cause });
}
