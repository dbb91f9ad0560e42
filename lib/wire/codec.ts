/**
 * The message codec: MessagePack bodies (compact, binary-safe, with a
 * maintained decoder that enforces length limits) validated by zod schemas.
 *
 * Every message is a MessagePack map with a string field `t` naming its
 * type. Decoding never trusts the peer: MessagePack limits are enforced while
 * parsing, trailing bytes are refused, and the schema checks each field's
 * type and bounds before a typed value is returned. Unknown map keys are
 * ignored so that later versions can add optional fields.
 *
 * @module
 */
import { Decoder, encode, Encoder } from "@msgpack/msgpack";
import { z } from "zod";
import { concatBytes } from "../bytes.ts";
import { FrameError } from "../errors.ts";

const decoder = new Decoder({
  maxStrLength: 64 * 1024,
  maxBinLength: 16 * 1024 * 1024,
  maxArrayLength: 4096,
  maxMapLength: 64,
  maxExtLength: 0,
});

/** Reused for transient encodings; sized for a file chunk so it rarely grows. */
const sharedEncoder = new Encoder({ initialBufferSize: 1024 * 1024 });

/**
 * Encodes a message into a shared buffer: the result is only valid until the
 * next call. For messages sealed at once (a record), it saves an allocation
 * and a copy of every large body.
 */
export function encodeMessageTransient<T extends { readonly t: string }>(message: T): Uint8Array {
  return sharedEncoder.encodeSharedRef(message);
}

/**
 * Encodes `message` plus one more field, `field`, whose value is the bytes
 * `parts` joined, without joining them: returns `[head, ...parts]`, which
 * joined are exactly `encodeMessage({ ...message, [field]: joined })` (the
 * bytes field last, as a MessagePack bin). A sealed file chunk goes on the
 * wire this way without being copied. `message` must have at most 14 fields.
 */
export function encodeMessageWithBytes<T extends { readonly t: string }>(
  message: T,
  field: string,
  parts: readonly Uint8Array[],
): Uint8Array[] {
  const map = encode(message);
  if (map[0]! < 0x80 || map[0]! >= 0x8f) {
    throw new RangeError("encodeMessageWithBytes: the message must be a map of at most 14 fields");
  }
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  if (length >= 2 ** 32) throw new RangeError(`a bytes field of ${length} bytes is too large`);
  const bin = length < 0x100
    ? [0xc4, length]
    : length < 0x10000
    ? [0xc5, length >>> 8, length & 0xff]
    : [0xc6, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
  const head = concatBytes(map, encode(field), Uint8Array.from(bin));
  head[0]! += 1; // one more entry in the fixmap
  return [head, ...parts];
}

/** Encodes a message as MessagePack. */
export function encodeMessage<T extends { readonly t: string }>(message: T): Uint8Array {
  return encode(message);
}

/**
 * Decodes `body` and validates it against `schema`; throws FrameError naming
 * the message and the offending field.
 */
export function decodeMessage<T>(schema: z.ZodType<T>, body: Uint8Array, what: string): T {
  let value: unknown;
  try {
    value = decoder.decode(body);
  } catch (cause) {
    throw new FrameError("bad_encoding", `${what}: not valid MessagePack (${errorText(cause)})`, {
      cause,
    });
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? `field "${issue.path.join(".")}"` : "message";
  if (issue?.code === "invalid_union" && issue.path.join(".") === "t") {
    const type = typeof value === "object" && value !== null && "t" in value ? value.t : undefined;
    // Echoed to the peer in an alert, whose text is at most 1024 characters: shown shortened.
    const shown = JSON.stringify(type) ?? "(none)";
    throw new FrameError(
      "unknown_message",
      `${what}: unexpected message type ${
        shown.length > MAX_SHOWN_TYPE ? `${shown.slice(0, MAX_SHOWN_TYPE)}…` : shown
      }`,
    );
  }
  throw new FrameError("bad_message", `${what}: ${field}: ${issue?.message ?? "invalid"}`);
}

/** Schema of a byte string whose length lies in [min, max]. */
export function bytes(min: number, max = min): z.ZodType<Uint8Array> {
  return z.instanceof(Uint8Array).refine(
    (b) => b.length >= min && b.length <= max,
    min === max ? `expected ${min} bytes` : `expected ${min}..${max} bytes`,
  );
}

/** Schema of a safe non-negative integer not above `max`. */
export function uint(max = Number.MAX_SAFE_INTEGER): z.ZodType<number> {
  return z.number().int().min(0).max(max);
}

/** Longest message type, as JSON, that an error message repeats. */
const MAX_SHOWN_TYPE = 64;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
