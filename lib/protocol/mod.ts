/**
 * Application messages carried inside records after the handshake
 * (docs/protocol.md §5–§7). Each is a MessagePack map with a type field `t`;
 * requests carry an `id` that the reply (or an `error`) echoes.
 *
 * @module
 */
import { z } from "zod";
import { bytes, decodeMessage, encodeMessage, uint } from "../wire/mod.ts";
import { Alert, MAX_CODE_CHARS, MAX_MESSAGE_CHARS } from "../handshake/mod.ts";
import {
  ChangePassword,
  DEVICE_TOKEN_BYTES,
  Login,
  LoginReply,
  Prelogin,
  PreloginReply,
  Register,
} from "./account.ts";
import { requestId } from "./common.ts";
import {
  FileBegin,
  FileChunk,
  FileData,
  FileDelete,
  FileDone,
  FileEnd,
  FileFailed,
  FileGet,
  FileInfo,
  FileList,
  FileListReply,
  FileReady,
  FileShare,
} from "./files.ts";
import {
  Ack,
  Deliver,
  GetKeys,
  History,
  HistoryReply,
  KeysReply,
  Send,
  SentReply,
} from "./messaging.ts";

export * from "./account.ts";
export * from "./files.ts";
export * from "./common.ts";
export * from "./messaging.ts";

/** Client → server: asks for a pong carrying the same id. */
export const Ping = z.object({ t: z.literal("ping"), id: requestId });
/** Client → server: liveness and round-trip probe. */
export type Ping = z.infer<typeof Ping>;

/** Server → client: answer to a ping. */
export const Pong = z.object({ t: z.literal("pong"), id: requestId });
/** Server → client: answer to a ping. */
export type Pong = z.infer<typeof Pong>;

/** Server → client: the request succeeded and has nothing else to say. */
export const OkReply = z.object({
  t: z.literal("ok"),
  id: requestId,
  /** Only in the reply to `change_password`: the device's new token (§6.7, §6.9). */
  deviceToken: bytes(DEVICE_TOKEN_BYTES).optional(),
});
/** Server → client: success. */
export type OkReply = z.infer<typeof OkReply>;

/** Server → client: the request `id` failed; the connection stays open. */
export const ErrorReply = z.object({
  t: z.literal("error"),
  id: requestId,
  code: z.string().max(MAX_CODE_CHARS),
  message: z.string().max(MAX_MESSAGE_CHARS),
  /** For `rate_limited` and `storage_unavailable`: when to try again. */
  retryAfterMs: uint().optional(),
  /** What the user can do about it. */
  hint: z.string().max(MAX_MESSAGE_CHARS).optional(),
});
/** Server → client: a request failed. */
export type ErrorReply = z.infer<typeof ErrorReply>;

/** Every message a client may send. */
export const ClientMessage = z.discriminatedUnion("t", [
  Ping,
  Prelogin,
  Register,
  Login,
  ChangePassword,
  GetKeys,
  Send,
  Ack,
  History,
  FileBegin,
  FileChunk,
  FileEnd,
  FileShare,
  FileDelete,
  FileGet,
  FileList,
  Alert,
]);
/** Every message a client may send. */
export type ClientMessage = z.infer<typeof ClientMessage>;

/** Every message a server may send. */
export const ServerMessage = z.discriminatedUnion("t", [
  Pong,
  OkReply,
  ErrorReply,
  PreloginReply,
  LoginReply,
  KeysReply,
  SentReply,
  Deliver,
  HistoryReply,
  FileReady,
  FileDone,
  FileFailed,
  FileInfo,
  FileData,
  FileListReply,
  Alert,
]);
/** Every message a server may send. */
export type ServerMessage = z.infer<typeof ServerMessage>;

/** A server message that answers a request (has an `id`). */
export type ServerReply = Exclude<ServerMessage, Deliver | Alert | FileFailed | FileData>;

/** Decodes a record a server received. */
export function decodeClientMessage(body: Uint8Array): ClientMessage {
  return decodeMessage(ClientMessage, body, "client message");
}

/** Decodes a record a client received. */
export function decodeServerMessage(body: Uint8Array): ServerMessage {
  return decodeMessage(ServerMessage, body, "server message");
}

/** Encodes any application message. */
export function encodeAppMessage(message: ClientMessage | ServerMessage): Uint8Array {
  return encodeMessage(message);
}
