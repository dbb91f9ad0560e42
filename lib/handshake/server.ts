/**
 * The server side of the handshake (docs/protocol.md §3).
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
  preferredSuites,
  type RandomSource,
  sign,
  systemRandom,
} from "../crypto/mod.ts";
import { bigIntToBytes, concatBytes, constantTimeEqual } from "../bytes.ts";
import { encodeMessage } from "../wire/mod.ts";
import { HandshakeError } from "../errors.ts";
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
  ClientFinished,
  ClientHello,
  ClientShare,
  MANDATORY_SUITE,
  RANDOM_BYTES,
  type ServerAuth,
  type ServerHello,
  SUPPORTED_VERSIONS,
} from "./messages.ts";

/** States of the server machine; any error moves it to `failed`. */
export type ServerState =
  | "await_client_hello"
  | "await_client_share"
  | "await_client_finished"
  | "done"
  | "failed";

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
  /**
   * Where the server random and the ephemeral key come from (default: the system CSPRNG).
   * Only known-answer tests pass another (docs/protocol.md Appendix D).
   */
  random?: RandomSource;
  /**
   * Record suites the server accepts, in its order of preference (default:
   * AES-256-GCM first where libcrypto runs on hardware AES, then
   * ChaCha20-Poly1305). ChaCha20-Poly1305 is always accepted.
   */
  suites?: readonly AeadSuite[];
  /**
   * Asked, in the server's order of preference, for each group both sides
   * support until one is admitted (the server rations finite-field work
   * with it, §3.8); a group it refuses is skipped. When it refuses every
   * common group the handshake fails with `server_busy`. Default: admit all.
   */
  admitGroup?: (group: DhGroup) => boolean;
}

/** The server side of the handshake. */
export class ServerHandshake {
  #state: ServerState = "await_client_hello";
  readonly #options: ServerHandshakeOptions;
  readonly #transcript = new Transcript();
  #version = 0;
  #group: DhGroup | undefined;
  #suite: AeadSuite = MANDATORY_SUITE;
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
      const common = this.#options.groups.filter((g) => hello.groups.includes(g.name));
      if (common.length === 0) {
        throw new HandshakeError(
          "no_common_group",
          "client_hello",
          `no common key-agreement group: client offers ${
            hello.groups.join(", ")
          }; server accepts ${this.#options.groups.map((g) => g.name).join(", ")}`,
        );
      }
      const suite = this.#chooseSuite(hello.suites);
      // Admitted last, right before the work it pays for.
      const admit = this.#options.admitGroup ?? (() => true);
      const group = common.find(admit);
      if (!group) {
        throw new HandshakeError(
          "server_busy",
          "client_hello",
          `the server is rationing key agreement in ${
            common.map((g) => g.name).join(", ")
          } and has none to spare now`,
          { hint: "retry in a few seconds, or offer x25519" },
        );
      }
      this.#transcript.add(body);
      this.#keyPair = await generateKeyPair(group, this.#options.random);
      const reply = encodeMessage(
        {
          t: "server_hello",
          version,
          group: group.name,
          ...(group.name === "custom"
            ? { p: bigIntToBytes(group.p), g: bigIntToBytes(group.g) }
            : {}),
          random: (this.#options.random ?? systemRandom)(new Uint8Array(RANDOM_BYTES)),
          share: this.#keyPair.publicKey,
          // Named only to a client that offered suites: an older client's
          // connection stays byte for byte what it was (§3.2).
          ...(hello.suites === undefined ? {} : { suite }),
        } satisfies ServerHello,
      );
      this.#transcript.add(reply);
      this.#version = version;
      this.#group = group;
      this.#suite = suite;
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
        suite: this.#suite,
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

  /**
   * §3.2: the first of the server's suites that the client offered; a client
   * that offers none gets ChaCha20-Poly1305.
   */
  #chooseSuite(offered: readonly string[] | undefined): AeadSuite {
    if (offered === undefined) return MANDATORY_SUITE;
    const own = this.#options.suites ?? preferredSuites();
    const accepted = own.includes(MANDATORY_SUITE) ? own : [...own, MANDATORY_SUITE];
    const suite = accepted.find((s) => offered.includes(s));
    if (!suite) {
      throw new HandshakeError(
        "no_common_suite",
        "client_hello",
        `no common record suite: client offers ${offered.join(", ")}; server accepts ${
          accepted.join(", ")
        }`,
        { hint: `every ssp peer must accept ${MANDATORY_SUITE}` },
      );
    }
    return suite;
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
