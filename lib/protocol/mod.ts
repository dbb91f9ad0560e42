/**
 * Application messages carried inside records after the handshake
 * (docs/protocol.md §5). Each is a MessagePack map with a type field `t`.
 *
 * @module
 */
import { z } from "zod";
import { decodeMessage, encodeMessage, uint } from "./codec.ts";
import { Alert } from "./handshake/mod.ts";

/** Client → server: asks for a pong carrying the same id. */
export const Ping = z.object({ t: z.literal("ping"), id: uint() });
/** Client → server: liveness and round-trip probe. */
export type Ping = z.infer<typeof Ping>;

/** Server → client: answer to a ping. */
export const Pong = z.object({ t: z.literal("pong"), id: uint() });
/** Server → client: answer to a ping. */
export type Pong = z.infer<typeof Pong>;

/** Every message a client may send. */
export const ClientMessage = z.discriminatedUnion("t", [Ping, Alert]);
/** Every message a client may send. */
export type ClientMessage = z.infer<typeof ClientMessage>;

/** Every message a server may send. */
export const ServerMessage = z.discriminatedUnion("t", [Pong, Alert]);
/** Every message a server may send. */
export type ServerMessage = z.infer<typeof ServerMessage>;

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
