/**
 * What an envelope carries, once decrypted: a MessagePack map whose `kind`
 * names the content type, validated with zod. Only the sender and the
 * recipients ever see these bytes; the server sees only their length.
 *
 * New kinds are added to {@linkcode Content}; an older client that meets one gets
 * `unsupported_content` and can show "update ssp to see this message"
 * rather than treating the envelope as forged.
 *
 * @module
 */
import { Decoder, encode } from "@msgpack/msgpack";
import { z } from "zod";
import { utf8 } from "../bytes.ts";
import { EnvelopeError } from "../errors.ts";
import { messageId } from "../protocol/mod.ts";

/** Longest text message, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Most message ids one receipt may acknowledge. */
export const MAX_RECEIPT_IDS = 512;

const textSchema = z.object({
  kind: z.literal("text"),
  text: z.string().refine(
    (text) => utf8(text).length <= MAX_TEXT_BYTES,
    `text longer than ${MAX_TEXT_BYTES} bytes`,
  ),
});

const receiptSchema = z.object({
  kind: z.literal("receipt"),
  receipt: z.enum(["delivered", "read"]),
  ids: z.array(messageId).min(1).max(MAX_RECEIPT_IDS),
});

/** Smallest plaintext chunk of a file (STREAM), in bytes. */
export const MIN_FILE_CHUNK_BYTES = 16 * 1024;
/**
 * Largest plaintext chunk of a file, in bytes: half the default record size,
 * so a chunk with its message framing always fits one record.
 */
export const MAX_FILE_CHUNK_BYTES = 512 * 1024;

/** Longest file name carried in a file message, in UTF-8 bytes. */
export const MAX_FILE_NAME_BYTES = 1024;

const fileSchema = z.object({
  kind: z.literal("file"),
  /** The server's id of the encrypted upload (32 hex digits). */
  fileId: messageId,
  /** The file's name (no directories), as the sender had it. */
  name: z.string().min(1).refine(
    (name) =>
      utf8(name).length <= MAX_FILE_NAME_BYTES && !/[/\\\0]/.test(name) && name !== "." &&
      name !== "..",
    "a file name without directories, at most 1024 bytes",
  ),
  /** Plaintext size in bytes. */
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Media type, if known. */
  type: z.string().max(255).optional(),
  /** Plaintext bytes per chunk of the STREAM encryption. */
  chunkBytes: z.number().int().min(MIN_FILE_CHUNK_BYTES).max(MAX_FILE_CHUNK_BYTES),
  /** The file key (32 bytes) — only sender and recipients ever see it. */
  key: z.custom<Uint8Array>(
    (k) => k instanceof Uint8Array && k.length === 32,
    "expected a 32-byte key",
  ),
});

const contentSchema = z.discriminatedUnion("kind", [textSchema, receiptSchema, fileSchema]);
const KNOWN_KINDS: ReadonlySet<string> = new Set(["text", "receipt", "file"]);

/** A text message. */
export type TextContent = z.infer<typeof textSchema>;
/** Tells the sender that messages were delivered to, or read on, a device. */
export type ReceiptContent = z.infer<typeof receiptSchema>;
/** Announces an end-to-end encrypted file and carries its key. */
export type FileContent = z.infer<typeof fileSchema>;
/** Everything an envelope can carry. */
export type Content = TextContent | ReceiptContent | FileContent;

/**
 * The content decoder's limits, enforced while parsing (docs/protocol.md
 * §7.3, Appendix B): the longest `bin` is the file key.
 */
export const CONTENT_DECODER_LIMITS = {
  maxStrLength: MAX_TEXT_BYTES,
  maxBinLength: 32,
  maxArrayLength: MAX_RECEIPT_IDS,
  maxMapLength: 16,
  maxExtLength: 0,
} as const;

const decoder = new Decoder(CONTENT_DECODER_LIMITS);

/**
 * Validates and encodes `content` for sealing.
 *
 * @throws {EnvelopeError} `too_large` if a text exceeds {@linkcode MAX_TEXT_BYTES}.
 * @throws {TypeError} If `content` is not valid content.
 */
export function encodeContent(content: Content): Uint8Array {
  const result = contentSchema.safeParse(content);
  if (!result.success) {
    if (content?.kind === "text" && typeof content.text === "string") {
      throw new EnvelopeError(
        "too_large",
        `the message is ${utf8(content.text).length} bytes; the limit is ${MAX_TEXT_BYTES}`,
        { hint: "split it into several messages" },
      );
    }
    throw new TypeError(`invalid content: ${issueText(result.error)}`);
  }
  return encode(result.data);
}

/**
 * Decodes and validates decrypted content bytes.
 *
 * @throws {EnvelopeError} `unsupported_content` for a kind this version does
 *   not know, `bad_content` for anything else that does not validate.
 */
export function decodeContent(bytes: Uint8Array): Content {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (cause) {
    throw new EnvelopeError("bad_content", "the message content is not valid MessagePack", {
      cause,
    });
  }
  const result = contentSchema.safeParse(value);
  if (result.success) return result.data;
  const kind = typeof value === "object" && value !== null && "kind" in value
    ? value.kind
    : undefined;
  if (typeof kind === "string" && !KNOWN_KINDS.has(kind)) {
    throw new EnvelopeError(
      "unsupported_content",
      `the message has content of kind ${JSON.stringify(kind)}, which this version cannot show`,
      { hint: "update ssp to see this message" },
    );
  }
  throw new EnvelopeError("bad_content", `invalid message content: ${issueText(result.error)}`);
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return `${path}${issue?.message ?? "invalid"}`;
}
