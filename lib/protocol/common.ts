/**
 * Field schemas and limits shared by the application messages.
 *
 * @module
 */
import { z } from "zod";
import { toHex } from "../bytes.ts";
import { uint } from "../wire/mod.ts";
import { E164_PATTERN, EXAMPLE_PHONE } from "../phone.ts";

/**
 * Most recipients of one message (a conversation has at most this many other
 * members): the bound on `send.to`, `get_keys`, `history.with`, a file's
 * readers and an envelope's `to` alike, since the server refuses an envelope
 * whose `to` differs from the request's.
 */
export const MAX_RECIPIENTS = 64;

/** Most envelopes in one history page. */
export const MAX_HISTORY_PAGE = 500;

/** An E.164 phone number. */
export const phone = z.string().regex(
  E164_PATTERN,
  `expected an E.164 phone number like ${EXAMPLE_PHONE}`,
);

/** A request id chosen by the client; echoed in the reply. */
export const requestId = uint(2 ** 32 - 1);

/** Length of a message id (also the envelope id and a file id) before hex encoding, in bytes. */
export const MESSAGE_ID_BYTES = 16;

/** A message id (also the envelope id and a file id): 16 random bytes as 32 lowercase hex digits. */
export const messageId: z.ZodType<string> = z.string().regex(
  /^[0-9a-f]{32}$/,
  "expected 32 lowercase hex digits",
);

/** A fresh random message id, valid for {@linkcode messageId}. */
export function newMessageId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES)));
}

/** A store sequence number. */
export const seq = uint();
