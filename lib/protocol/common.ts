/**
 * Field schemas and limits shared by the application messages.
 *
 * @module
 */
import { z } from "zod";
import { uint } from "../codec.ts";
import { E164_PATTERN, EXAMPLE_PHONE } from "../phone.ts";

/** Most recipients of one message (a conversation has at most this many other members). */
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

/** A client message id: 16 random bytes as 32 lowercase hex digits. */
export const messageId = z.string().regex(/^[0-9a-f]{32}$/, "expected 32 lowercase hex digits");

/** A store sequence number. */
export const seq = uint();
