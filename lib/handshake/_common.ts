/**
 * What both handshake machines share: the transcript, the key schedule and
 * the decoding of expected messages (docs/protocol.md §3.6).
 *
 * @module
 */
import { z } from "zod";
import type { AeadSuite, DhGroup } from "../crypto/mod.ts";
import { concatBytes, sha256, utf8 } from "../bytes.ts";
import { decodeMessage, encodeFrameHeader } from "../wire/mod.ts";
import { HandshakeError, SspError } from "../errors.ts";
import { hkdfSha256 } from "../crypto/mod.ts";
import { Alert } from "./messages.ts";

/** What a completed handshake gives each side. */
export interface HandshakeResult {
  /** The negotiated protocol version. */
  version: number;
  /** The negotiated group. */
  group: DhGroup;
  /** Stable identifier of the group's parameters (see dh.ts `groupId`). */
  groupId: string;
  /** The record suite (§3.2): how both directions' records are sealed. */
  suite: AeadSuite;
  /** Key for records this side sends. */
  sendKey: Uint8Array;
  /** Key for records this side receives. */
  receiveKey: Uint8Array;
  /** The server's Ed25519 identity public key (32 bytes). */
  serverIdentity: Uint8Array;
  /** SHA-256 of all four messages before client_finished; unique to this session. */
  transcriptHash: Uint8Array;
}

const SIGNATURE_CONTEXT = utf8("ssp/1 server signature\0");

/** The running hash input: each message as framed on the wire. */
export class Transcript {
  readonly #parts: Uint8Array[] = [];

  add(body: Uint8Array): void {
    this.#parts.push(encodeFrameHeader(body.length), body);
  }

  hash(): Uint8Array {
    return sha256(...this.#parts);
  }
}

export interface KeySchedule {
  clientToServer: Uint8Array;
  serverToClient: Uint8Array;
  serverFinished: Uint8Array;
  clientFinished: Uint8Array;
}

/** §3.6: every key is HKDF-SHA-256 of the DH secret, salted with the transcript hash. */
export function keySchedule(secret: Uint8Array, transcriptHash: Uint8Array): KeySchedule {
  const key = (label: string) => hkdfSha256(secret, transcriptHash, utf8(`ssp/1 ${label}`), 32);
  return {
    clientToServer: key("c2s"),
    serverToClient: key("s2c"),
    serverFinished: key("server finished"),
    clientFinished: key("client finished"),
  };
}

export function signedContent(transcriptHash: Uint8Array, identity: Uint8Array): Uint8Array {
  return concatBytes(SIGNATURE_CONTEXT, transcriptHash, identity);
}

/** Decodes the expected message, turning a peer's alert into a HandshakeError. */
export function expect<T extends { t: string }>(
  schema: z.ZodType<T>,
  body: Uint8Array,
  stage: string,
): T {
  const either = z.discriminatedUnion("t", [
    schema as unknown as z.ZodObject<{ t: z.ZodLiteral<string> }>,
    Alert,
  ]);
  const message = decodeMessage(either, body, `handshake ${stage}`) as T | Alert;
  if (message.t === "alert") {
    const alert = message as Alert;
    throw new HandshakeError(
      `peer_${alert.code}`,
      stage,
      `peer refused the handshake: ${alert.message}`,
    );
  }
  return message as T;
}

export function fail(stage: string, error: unknown): never {
  if (error instanceof HandshakeError) throw error;
  if (error instanceof SspError) {
    throw new HandshakeError(error.code, stage, error.message, {
      cause: error,
      ...(error.hint ? { hint: error.hint } : {}),
    });
  }
  throw new HandshakeError("internal", stage, `handshake failed: ${String(error)}`, {
    cause: error,
  });
}
