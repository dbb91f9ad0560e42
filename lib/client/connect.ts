/**
 * Opens a secure channel to a server and checks its pinned key.
 *
 * @module
 */
import type { AeadSuite } from "../crypto/mod.ts";
import { clientHandshake, type SecureChannel } from "../channel/mod.ts";
import type { WireGroupName } from "../handshake/mod.ts";
import { SspError } from "../errors.ts";
import { fingerprint } from "../crypto/mod.ts";
import { formatServerAddress, parseServerAddress } from "../address.ts";
import { KnownHosts, type PinResult } from "./known_hosts.ts";

/** What the client needs to connect. */
export interface ConnectConfig {
  /** `host:port` of the server. */
  server: string;
  /** The client's data dir (pinned keys live there). */
  dataDir: string;
  /** Expected server fingerprint (`SHA256:…`); pins it explicitly. */
  serverFingerprint?: string;
  /** Groups to offer, best first. */
  groups?: readonly WireGroupName[];
  /** Handshake time limit in milliseconds. */
  handshakeTimeoutMs?: number;
  /** Record suites to offer, best first (default: what this machine runs fast, §3.2). */
  suites?: readonly AeadSuite[];
}

/** An open, verified connection. */
export interface ServerConnection {
  channel: SecureChannel;
  /** Whether the server key was pinned just now (first use) or matched the pin. */
  pin: PinResult;
  /** The server key's fingerprint. */
  fingerprint: string;
  /** The canonical `host:port`. */
  server: string;
}

/** Connects, runs the handshake, and checks (or pins) the server's key. */
export async function connect(config: ConnectConfig): Promise<ServerConnection> {
  const address = parseServerAddress(config.server);
  const server = formatServerAddress(address);
  const knownHosts = await KnownHosts.load(config.dataDir);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect(address);
    conn.setNoDelay(true); // small handshake and chat records must not wait for Nagle
  } catch (cause) {
    throw new SspError(
      "server_unreachable",
      `cannot connect to ${server}: ${(cause as Error).message}`,
      { hint: "check --server, and that ssp-server is running there", cause },
    );
  }
  let pin: PinResult = "match";
  const channel = await clientHandshake(conn, {
    ...(config.groups ? { groups: config.groups } : {}),
    ...(config.suites ? { suites: config.suites } : {}),
    ...(config.handshakeTimeoutMs ? { handshakeTimeoutMs: config.handshakeTimeoutMs } : {}),
    validatedGroupIds: knownHosts.validatedGroups(server),
    checkServerIdentity: async (identity, session) => {
      pin = knownHosts.check(server, identity, config.serverFingerprint);
      const custom = session.group.name === "custom" ? session.groupId : undefined;
      await knownHosts.remember(server, identity, custom);
    },
  });
  return { channel, pin, fingerprint: fingerprint(channel.session.serverIdentity), server };
}
