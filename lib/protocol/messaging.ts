/**
 * Messaging messages (docs/protocol.md §7): the server stores and relays
 * opaque end-to-end envelopes; it can neither read nor forge them.
 *
 * @module
 */
import { z } from "zod";
import { bytes, uint } from "../wire/mod.ts";
import { MAX_HISTORY_PAGE, MAX_RECIPIENTS, messageId, phone, requestId, seq } from "./common.ts";

/**
 * Default limit on an envelope's size on the wire, in bytes: what a client
 * seals and parses, and the server's `--max-message-bytes` default.
 */
export const MAX_ENVELOPE_BYTES = 256 * 1024;

/** Ceiling for a configured envelope limit (must fit a record with room to spare). */
export const MAX_ENVELOPE_BYTES_CEILING = 900 * 1024;

/** Client → server: public keys of these accounts. */
export const GetKeys = z.object({
  t: z.literal("get_keys"),
  id: requestId,
  phones: z.array(phone).min(1).max(MAX_RECIPIENTS),
});
/** Client → server: asks for public keys. */
export type GetKeys = z.infer<typeof GetKeys>;

/** Server → client: the keys of those that have accounts. */
export const KeysReply = z.object({
  t: z.literal("keys"),
  id: requestId,
  keys: z.array(
    z.object({ phone, encryptionKey: bytes(32), signingKey: bytes(32) }),
  ).max(MAX_RECIPIENTS),
});
/** Server → client: public keys. */
export type KeysReply = z.infer<typeof KeysReply>;

/** Client → server: store and deliver an envelope. */
export const Send = z.object({
  t: z.literal("send"),
  id: requestId,
  messageId,
  to: z.array(phone).min(1).max(MAX_RECIPIENTS),
  envelope: bytes(1, MAX_ENVELOPE_BYTES_CEILING),
});
/** Client → server: sends a message. */
export type Send = z.infer<typeof Send>;

/** Server → client: the envelope is durably stored (or was already: `duplicate`). */
export const SentReply = z.object({
  t: z.literal("sent"),
  id: requestId,
  seq,
  duplicate: z.boolean(),
});
/** Server → client: send acknowledged. */
export type SentReply = z.infer<typeof SentReply>;

/** Server → client (push): an envelope for this account. */
export const Deliver = z.object({
  t: z.literal("deliver"),
  seq,
  storedAt: uint(),
  envelope: bytes(1, MAX_ENVELOPE_BYTES_CEILING),
});
/** Server → client: a delivered envelope. */
export type Deliver = z.infer<typeof Deliver>;

/** Client → server: everything up to `seq` was received (no reply). */
export const Ack = z.object({ t: z.literal("ack"), seq });
/** Client → server: delivery acknowledgement. */
export type Ack = z.infer<typeof Ack>;

/** Client → server: a page of the conversation with `with` (the other members). */
export const History = z.object({
  t: z.literal("history"),
  id: requestId,
  with: z.array(phone).min(1).max(MAX_RECIPIENTS),
  before: seq.optional(),
  after: seq.optional(),
  limit: z.number().int().min(1).max(MAX_HISTORY_PAGE),
});
/** Client → server: asks for history. */
export type History = z.infer<typeof History>;

/** Server → client: a page of history, oldest first. */
export const HistoryReply = z.object({
  t: z.literal("history_page"),
  id: requestId,
  items: z.array(
    z.object({ seq, storedAt: uint(), envelope: bytes(1, MAX_ENVELOPE_BYTES_CEILING) }),
  ).max(MAX_HISTORY_PAGE),
});
/** Server → client: history page. */
export type HistoryReply = z.infer<typeof HistoryReply>;
