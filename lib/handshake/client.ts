/**
 * The client side of the handshake (docs/protocol.md §3).
 *
 * @module
 */
import {
  type AeadSuite,
  computeSharedSecret,
  type DhGroup,
  type DhKeyPair,
  generateKeyPair,
  groupId,
  hmacSha256,
  namedGroup,
  preferredSuites,
  type RandomSource,
  systemRandom,
  validateGroupParameters,
  verify,
} from "../crypto/mod.ts";
import { bytesToBigInt, concatBytes, constantTimeEqual } from "../bytes.ts";
import { encodeMessage } from "../wire/mod.ts";
import { DhError, HandshakeError } from "../errors.ts";
import {
  expect,
  fail,
  type HandshakeResult,
  type KeySchedule,
  keySchedule,
  signedContent,
  Transcript,
} from "./_common.ts";
import {
  type ClientFinished,
  type ClientHello,
  type ClientShare,
  GROUP_NAMES,
  MANDATORY_SUITE,
  RANDOM_BYTES,
  ServerAuth,
  ServerHello,
  SUPPORTED_VERSIONS,
  type WireGroupName,
} from "./messages.ts";

/** States of the client machine; any error moves it to `failed`. */
export type ClientState = "start" | "await_server_hello" | "await_server_auth" | "done" | "failed";

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
  /**
   * Where the client random and the ephemeral key come from (default: the system CSPRNG).
   * Only known-answer tests pass another (docs/protocol.md Appendix D).
   */
  random?: RandomSource;
  /**
   * Record suites to offer, best first (default: AES-256-GCM first where
   * libcrypto runs on hardware AES, then ChaCha20-Poly1305). Offering only
   * ChaCha20-Poly1305 leaves `suites` out of client_hello, exactly as clients
   * before suite negotiation did.
   */
  suites?: readonly AeadSuite[];
}

/** The client side of the handshake. */
export class ClientHandshake {
  #state: ClientState = "start";
  readonly #options: ClientHandshakeOptions;
  readonly #transcript = new Transcript();
  #version = 0;
  #group: DhGroup | undefined;
  #suites: readonly AeadSuite[] | undefined;
  #suite: AeadSuite = MANDATORY_SUITE;
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
    const suites = this.#options.suites ?? preferredSuites();
    this.#suites = suites.length === 1 && suites[0] === MANDATORY_SUITE ? undefined : suites;
    const body = encodeMessage(
      {
        t: "client_hello",
        versions: [...(this.#options.versions ?? SUPPORTED_VERSIONS)],
        groups: [...(this.#options.groups ?? GROUP_NAMES)],
        random: (this.#options.random ?? systemRandom)(new Uint8Array(RANDOM_BYTES)),
        ...(this.#suites === undefined ? {} : { suites: [...this.#suites] }),
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
      this.#suite = this.#acceptSuite(hello);
      this.#transcript.add(body);
      const group = this.#acceptGroup(hello);
      this.#keyPair = await generateKeyPair(group, this.#options.random);
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
          suite: this.#suite,
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

  /**
   * §3.2: the suite the server chose. A server_hello without `suite` means
   * ChaCha20-Poly1305 (a server older than suites). A man in the middle who
   * removes or changes either side's field changes the transcript, so the
   * server's signature fails (§3.5): no downgrade.
   */
  #acceptSuite(hello: ServerHello): AeadSuite {
    if (hello.suite === undefined) return MANDATORY_SUITE;
    if (this.#suites === undefined || !this.#suites.includes(hello.suite)) {
      throw new HandshakeError(
        "suite_not_offered",
        "server_hello",
        `server chose record suite ${hello.suite}, which this client did not offer`,
      );
    }
    return hello.suite;
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
    const p = bytesToBigInt(hello.p);
    const g = bytesToBigInt(hello.g);
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
