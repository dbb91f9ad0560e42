/**
 * Server addresses: `host:port` as users type them and as keys are pinned.
 *
 * @module
 */

/** Port ssp-server listens on by default. */
export const DEFAULT_PORT = 7777;

/** A parsed server address. */
export interface ServerAddress {
  hostname: string;
  port: number;
}

/** Parses `host`, `host:port` or `[v6]:port`; throws TypeError with what is wrong. */
export function parseServerAddress(text: string): ServerAddress {
  const match = text.match(/^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/);
  const hostname = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? DEFAULT_PORT : Number(match[3]);
  if (!hostname || port < 1 || port > 65535) {
    throw new TypeError(
      `invalid server address "${text}": expected host:port, e.g. 127.0.0.1:7777`,
    );
  }
  return { hostname, port };
}

/** The canonical `host:port` key under which a server's key is pinned. */
export function formatServerAddress(address: ServerAddress): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}
