/**
 * The handshake messages (docs/protocol.md §3), each a MessagePack map in one
 * plaintext frame, with their schemas and size limits in one place.
 *
 * @module
 */
import { z } from "zod";
import { AEAD_SUITES, type AeadSuite } from "../crypto/mod.ts";
import { bytes, uint } from "../wire/mod.ts";

/** Protocol versions this build speaks, best first. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];

/** Bytes of each side's handshake random. */
export const RANDOM_BYTES = 32;

/** Largest handshake frame body either side accepts (an 8192-bit group fits easily). */
export const MAX_HANDSHAKE_FRAME_BYTES = 16 * 1024;

/** Largest DH public value or prime, in bytes (8192 bits). */
export const MAX_DH_VALUE_BYTES = 1024;

/** Longest error or alert `code`, in characters (also of `error` and `file_failed`). */
export const MAX_CODE_CHARS = 64;

/** Longest error or alert `message` (and `hint`), in characters. */
export const MAX_MESSAGE_CHARS = 1024;

/** Group names as they appear on the wire. */
export const GROUP_NAMES = ["x25519", "ffdhe2048", "ffdhe3072", "ffdhe4096", "custom"] as const;

/** A group name as it appears on the wire. */
export type WireGroupName = typeof GROUP_NAMES[number];

const groupName = z.enum(GROUP_NAMES);

/** Record suites as they appear on the wire (§3.2); ChaCha20-Poly1305 is mandatory. */
export const SUITE_NAMES: readonly AeadSuite[] = AEAD_SUITES;
/** The suite every peer speaks, and the one of a connection whose hellos name none. */
export const MANDATORY_SUITE: AeadSuite = "chacha20-poly1305";

/** Client → server, first message: what the client can speak. */
export const ClientHello = z.object({
  t: z.literal("client_hello"),
  versions: z.array(uint(255)).min(1).max(16),
  groups: z.array(z.string().max(32)).min(1).max(16),
  random: bytes(RANDOM_BYTES),
  /**
   * Record suites the client accepts, best first; absent means ChaCha20-Poly1305
   * only (as from clients older than the field). Unknown names are ignored.
   */
  suites: z.array(z.string().max(32)).min(1).max(16).optional(),
});
/** Client → server, first message. */
export type ClientHello = z.infer<typeof ClientHello>;

/** Server → client: the chosen version and group, and the server's ephemeral share. */
export const ServerHello = z.object({
  t: z.literal("server_hello"),
  version: uint(255),
  group: groupName,
  /** Only for group "custom": the prime p, big-endian. */
  p: bytes(1, MAX_DH_VALUE_BYTES).optional(),
  /** Only for group "custom": the generator g, big-endian. */
  g: bytes(1, MAX_DH_VALUE_BYTES).optional(),
  random: bytes(RANDOM_BYTES),
  share: bytes(1, MAX_DH_VALUE_BYTES),
  /** The chosen record suite; present exactly when client_hello carried `suites`. */
  suite: z.enum(AEAD_SUITES).optional(),
});
/** Server → client: chosen parameters and the server's share. */
export type ServerHello = z.infer<typeof ServerHello>;

/** Client → server: the client's ephemeral share. */
export const ClientShare = z.object({
  t: z.literal("client_share"),
  share: bytes(1, MAX_DH_VALUE_BYTES),
});
/** Client → server: the client's share. */
export type ClientShare = z.infer<typeof ClientShare>;

/** Server → client: the server's identity, its signature over the transcript, and key confirmation. */
export const ServerAuth = z.object({
  t: z.literal("server_auth"),
  identity: bytes(32),
  signature: bytes(64),
  finished: bytes(32),
});
/** Server → client: identity, signature, confirmation. */
export type ServerAuth = z.infer<typeof ServerAuth>;

/** Client → server: key confirmation. */
export const ClientFinished = z.object({
  t: z.literal("client_finished"),
  finished: bytes(32),
});
/** Client → server: key confirmation. */
export type ClientFinished = z.infer<typeof ClientFinished>;

/** Either side, at any time: why the sender is closing the connection. */
export const Alert = z.object({
  t: z.literal("alert"),
  code: z.string().max(MAX_CODE_CHARS),
  message: z.string().max(MAX_MESSAGE_CHARS),
});
/** Either side: why the sender is closing. */
export type Alert = z.infer<typeof Alert>;
