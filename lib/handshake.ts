/**
 * The ssp handshake as two pure state machines, one per side
 * (docs/protocol.md §3). They take and return frame bodies and do no I/O;
 * `channel.ts` drives them over a socket.
 *
 *   client                                   server
 *   client_hello  ──────────────────────────▶
 *                 ◀──────────────────────────  server_hello (version, group, share)
 *   client_share  ──────────────────────────▶
 *                 ◀──────────────────────────  server_auth (identity, signature, finished)
 *   client_finished ────────────────────────▶
 *
 * The server signs the hash of the first three messages exactly as they were
 * framed on the wire, so a man in the middle that alters an offer (downgrade)
 * or a share is caught by the client; both finished MACs confirm that each
 * side derived the same keys before any application data flows.
 *
 * @module
 */
import { concatBytes, constantTimeEqual, sha256, utf8 } from "./bytes.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import {
  computeSharedSecret,
  type DhGroup,
  type DhKeyPair,
  generateKeyPair,
  groupId,
  namedGroup,
  validateGroupParameters,
} from "./dh.ts";
import { DhError, HandshakeError, SspError } from "./errors.ts";
import { encodeFrameHeader } from "./frames.ts";
import {
  Alert,
  ClientFinished,
  ClientHello,
  ClientShare,
  GROUP_NAMES,
  RANDOM_BYTES,
  ServerAuth,
  ServerHello,
  SUPPORTED_VERSIONS,
  type WireGroupName,
} from "./handshake_messages.ts";
import { hkdfSha256, hmacSha256 } from "./kdf.ts";
import { sign, verify } from "./sign.ts";
import { z } from "zod";

/** What a completed handshake gives each side. */
export interface HandshakeResult {
  /** The negotiated protocol version. */
  version: number;
  /** The negotiated group. */
  group: DhGroup;
  /** Stable identifier of the group's parameters (see dh.ts `groupId`). */
  groupId: string;
  /** Key for records this side sends. */
  sendKey: Uint8Array;
  /** Key for records this side receives. */
  receiveKey: Uint8Array;
  /** The server's Ed25519 identity public key (32 bytes). */
  serverIdentity: Uint8Array;
  /** SHA-256 of all four messages before client_finished; unique to this session. */
  transcriptHash: Uint8Array;
}

/** States of the client machine; any error moves it to `failed`. */
export type ClientState = "start" | "await_server_hello" | "await_server_auth" | "done" | "failed";

/** States of the server machine; any error moves it to `failed`. */
export type ServerState =
  | "await_client_hello"
  | "await_client_share"
  | "await_client_finished"
  | "done"
  | "failed";

const SIGNATURE_CONTEXT = utf8("ssp/1 server signature\0");

/** The running hash input: each message as framed on the wire. */
class Transcript {
  readonly #parts: Uint8Array[] = [];

  add(body: Uint8Array): void {
    this.#parts.push(encodeFrameHeader(body.length), body);
  }

  hash(): Uint8Array {
    return sha256(...this.#parts);
  }
}

interface KeySchedule {
  clientToServer: Uint8Array;
  serverToClient: Uint8Array;
  serverFinished: Uint8Array;
  clientFinished: Uint8Array;
}

/** §3.6: every key is HKDF-SHA-256 of the DH secret, salted with the transcript hash. */
function keySchedule(secret: Uint8Array, transcriptHash: Uint8Array): KeySchedule {
  const key = (label: string) => hkdfSha256(secret, transcriptHash, utf8(`ssp/1 ${label}`), 32);
  return {
    clientToServer: key("c2s"),
    serverToClient: key("s2c"),
    serverFinished: key("server finished"),
    clientFinished: key("client finished"),
  };
}

function signedContent(transcriptHash: Uint8Array, identity: Uint8Array): Uint8Array {
  return concatBytes(SIGNATURE_CONTEXT, transcriptHash, identity);
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function toBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function toBytes(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Decodes the expected message, turning a peer's alert into a HandshakeError. */
function expect<T extends { t: string }>(schema: z.ZodType<T>, body: Uint8Array, stage: string): T {
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

function fail(stage: string, error: unknown): never {
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

/** Options of the client side. */
export interface ClientHandshakeOptions {
  /** Groups to offer, best first (default: all that ssp knows). */
  groups?: readonly WireGroupName[];
  /** Versions to offer (default: all this build speaks). */
  versions?: readonly number[];
  /**
   * Ids of custom groups already validated for this server (pinned with its
   * key), so the costly primality checks can be skipped (§3.4).
   */
  validatedGroupIds?: ReadonlySet<string>;
}

/** The client side of the handshake. */
export class ClientHandshake {
  #state: ClientState = "start";
  readonly #options: ClientHandshakeOptions;
  readonly #transcript = new Transcript();
  #version = 0;
  #group: DhGroup | undefined;
  #keyPair: DhKeyPair | undefined;
  #schedule: KeySchedule | undefined;
  #thShares: Uint8Array | undefined;

  constructor(options: ClientHandshakeOptions = {}) {
    this.#options = options;
  }

  /** The current state. */
  get state(): ClientState {
    return this.#state;
  }

  /** §3.1: builds client_hello. */
  clientHello(): Uint8Array {
    this.#assertState("start", "client_hello");
    const body = encodeMessage(
      {
        t: "client_hello",
        versions: [...(this.#options.versions ?? SUPPORTED_VERSIONS)],
        groups: [...(this.#options.groups ?? GROUP_NAMES)],
        random: randomBytes(RANDOM_BYTES),
      } satisfies ClientHello,
    );
    this.#transcript.add(body);
    this.#state = "await_server_hello";
    return body;
  }

  /** §3.2–3.3: checks server_hello and returns client_share. */
  async onServerHello(body: Uint8Array): Promise<Uint8Array> {
    this.#assertState("await_server_hello", "server_hello");
    try {
      const hello = expect(ServerHello, body, "server_hello");
      const versions = this.#options.versions ?? SUPPORTED_VERSIONS;
      if (!versions.includes(hello.version)) {
        throw new HandshakeError(
          "unsupported_version",
          "server_hello",
          `server chose protocol version ${hello.version}, which this client did not offer`,
          { hint: "upgrade ssp-client" },
        );
      }
      const offered = this.#options.groups ?? GROUP_NAMES;
      if (!offered.includes(hello.group)) {
        throw new HandshakeError(
          "group_not_offered",
          "server_hello",
          `server chose group ${hello.group}, which this client did not offer`,
        );
      }
      this.#transcript.add(body);
      const group = this.#acceptGroup(hello);
      this.#keyPair = await generateKeyPair(group);
      const secret = await computeSharedSecret(this.#keyPair, hello.share);
      const share = encodeMessage(
        { t: "client_share", share: this.#keyPair.publicKey } satisfies ClientShare,
      );
      this.#transcript.add(share);
      this.#thShares = this.#transcript.hash();
      this.#schedule = keySchedule(secret, this.#thShares);
      this.#version = hello.version;
      this.#group = group;
      this.#state = "await_server_auth";
      return share;
    } catch (error) {
      this.#state = "failed";
      fail("server_hello", error);
    }
  }

  /** §3.5: verifies server_auth; returns client_finished and the session keys. */
  async onServerAuth(
    body: Uint8Array,
  ): Promise<{ clientFinished: Uint8Array; result: HandshakeResult }> {
    this.#assertState("await_server_auth", "server_auth");
    try {
      const auth = expect(ServerAuth, body, "server_auth");
      const th = this.#thShares!;
      const schedule = this.#schedule!;
      const signatureOk = await verify(
        auth.identity,
        signedContent(th, auth.identity),
        auth.signature,
      );
      if (!signatureOk) {
        throw new HandshakeError(
          "bad_server_signature",
          "server_auth",
          "server's signature over the handshake does not verify: the connection was tampered with (man in the middle?)",
          { hint: "check the network path to the server; do not trust this connection" },
        );
      }
      const expected = hmacSha256(
        schedule.serverFinished,
        concatBytes(th, auth.identity, auth.signature),
      );
      if (!constantTimeEqual(expected, auth.finished)) {
        throw new HandshakeError(
          "bad_server_finished",
          "server_auth",
          "server's key confirmation does not match: the connection was tampered with",
        );
      }
      this.#transcript.add(body);
      const transcriptHash = this.#transcript.hash();
      const clientFinished = encodeMessage(
        {
          t: "client_finished",
          finished: hmacSha256(schedule.clientFinished, transcriptHash),
        } satisfies ClientFinished,
      );
      this.#state = "done";
      return {
        clientFinished,
        result: {
          version: this.#version,
          group: this.#group!,
          groupId: groupId(this.#group!),
          sendKey: schedule.clientToServer,
          receiveKey: schedule.serverToClient,
          serverIdentity: auth.identity,
          transcriptHash,
        },
      };
    } catch (error) {
      this.#state = "failed";
      fail("server_auth", error);
    }
  }

  /** §3.4: the group the server chose, validated unless already trusted. */
  #acceptGroup(hello: ServerHello): DhGroup {
    if (hello.group !== "custom") {
      if (hello.p !== undefined || hello.g !== undefined) {
        throw new DhError(
          "dh_unexpected_params",
          `server sent parameters for named group ${hello.group}`,
        );
      }
      return namedGroup(hello.group);
    }
    if (hello.p === undefined || hello.g === undefined) {
      throw new DhError("dh_missing_params", "server chose a custom group but sent no p or g");
    }
    const p = toBigInt(hello.p);
    const g = toBigInt(hello.g);
    const validatedIds = this.#options.validatedGroupIds;
    return validateGroupParameters(p, g, validatedIds ? { validatedIds } : {});
  }

  #assertState(expected: ClientState, stage: string): void {
    if (this.#state !== expected) {
      throw new HandshakeError(
        "bad_state",
        stage,
        `client handshake is ${this.#state}, not ${expected}`,
      );
    }
  }
}

/** The server's long-term identity. */
export interface ServerIdentity {
  /** Ed25519 public key, 32 bytes raw. */
  publicKey: Uint8Array;
  /** Ed25519 private key, PKCS#8. */
  privateKeyPkcs8: Uint8Array;
}

/** Options of the server side. */
export interface ServerHandshakeOptions {
  /** The server's identity key. */
  identity: ServerIdentity;
  /** Groups the server accepts, in its order of preference. */
  groups: readonly DhGroup[];
  /** Versions the server speaks (default: all this build speaks). */
  versions?: readonly number[];
}

/** The server side of the handshake. */
export class ServerHandshake {
  #state: ServerState = "await_client_hello";
  readonly #options: ServerHandshakeOptions;
  readonly #transcript = new Transcript();
  #version = 0;
  #group: DhGroup | undefined;
  #keyPair: DhKeyPair | undefined;
  #schedule: KeySchedule | undefined;

  constructor(options: ServerHandshakeOptions) {
    this.#options = options;
  }

  /** The current state. */
  get state(): ServerState {
    return this.#state;
  }

  /** §3.1–3.2: reads client_hello, chooses version and group, returns server_hello. */
  async onClientHello(body: Uint8Array): Promise<Uint8Array> {
    this.#assertState("await_client_hello", "client_hello");
    try {
      const hello = expect(ClientHello, body, "client_hello");
      const versions = this.#options.versions ?? SUPPORTED_VERSIONS;
      const version = Math.max(...hello.versions.filter((v) => versions.includes(v)), 0);
      if (version === 0) {
        throw new HandshakeError(
          "unsupported_version",
          "client_hello",
          `client offers protocol versions ${hello.versions.join(", ")}; this server speaks ${
            versions.join(", ")
          }`,
          { hint: "upgrade the older side" },
        );
      }
      const group = this.#options.groups.find((g) => hello.groups.includes(g.name));
      if (!group) {
        throw new HandshakeError(
          "no_common_group",
          "client_hello",
          `no common key-agreement group: client offers ${
            hello.groups.join(", ")
          }; server accepts ${this.#options.groups.map((g) => g.name).join(", ")}`,
        );
      }
      this.#transcript.add(body);
      this.#keyPair = await generateKeyPair(group);
      const reply = encodeMessage(
        {
          t: "server_hello",
          version,
          group: group.name,
          ...(group.name === "custom" ? { p: toBytes(group.p), g: toBytes(group.g) } : {}),
          random: randomBytes(RANDOM_BYTES),
          share: this.#keyPair.publicKey,
        } satisfies ServerHello,
      );
      this.#transcript.add(reply);
      this.#version = version;
      this.#group = group;
      this.#state = "await_client_share";
      return reply;
    } catch (error) {
      this.#state = "failed";
      fail("client_hello", error);
    }
  }

  /** §3.3–3.5: reads client_share, derives keys, returns server_auth. */
  async onClientShare(body: Uint8Array): Promise<Uint8Array> {
    this.#assertState("await_client_share", "client_share");
    try {
      const share = expect(ClientShare, body, "client_share");
      const secret = await computeSharedSecret(this.#keyPair!, share.share);
      this.#transcript.add(body);
      const th = this.#transcript.hash();
      this.#schedule = keySchedule(secret, th);
      const identity = this.#options.identity;
      const signature = await sign(identity.privateKeyPkcs8, signedContent(th, identity.publicKey));
      const reply = encodeMessage(
        {
          t: "server_auth",
          identity: identity.publicKey,
          signature,
          finished: hmacSha256(
            this.#schedule.serverFinished,
            concatBytes(th, identity.publicKey, signature),
          ),
        } satisfies ServerAuth,
      );
      this.#transcript.add(reply);
      this.#state = "await_client_finished";
      return reply;
    } catch (error) {
      this.#state = "failed";
      fail("client_share", error);
    }
  }

  /** §3.5: checks client_finished; returns the session keys. */
  onClientFinished(body: Uint8Array): HandshakeResult {
    this.#assertState("await_client_finished", "client_finished");
    try {
      const finished = expect(ClientFinished, body, "client_finished");
      const transcriptHash = this.#transcript.hash();
      const schedule = this.#schedule!;
      const expected = hmacSha256(schedule.clientFinished, transcriptHash);
      if (!constantTimeEqual(expected, finished.finished)) {
        throw new HandshakeError(
          "bad_client_finished",
          "client_finished",
          "client's key confirmation does not match",
        );
      }
      this.#state = "done";
      return {
        version: this.#version,
        group: this.#group!,
        groupId: groupId(this.#group!),
        sendKey: schedule.serverToClient,
        receiveKey: schedule.clientToServer,
        serverIdentity: this.#options.identity.publicKey,
        transcriptHash,
      };
    } catch (error) {
      this.#state = "failed";
      fail("client_finished", error);
    }
  }

  #assertState(expected: ServerState, stage: string): void {
    if (this.#state !== expected) {
      throw new HandshakeError(
        "bad_state",
        stage,
        `server handshake is ${this.#state}, not ${expected}`,
      );
    }
  }
}
