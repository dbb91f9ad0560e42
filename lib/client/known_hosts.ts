/**
 * Pinned server keys, like ssh's known_hosts with `accept-new`: the first
 * connection to a host:port records the server's identity key, later ones
 * must present the same key. Custom DH groups validated for a pinned server
 * are remembered with it so the costly primality checks run once.
 *
 * The file is JSON, rewritten atomically (temporary file + rename).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { constantTimeEqual } from "../bytes.ts";
import { HandshakeError, SspError } from "../errors.ts";
import { fingerprint } from "../crypto/mod.ts";

/** Name of the pinned-keys file inside the client's data dir. */
export const KNOWN_HOSTS_FILE = "known_hosts.json";

interface HostEntry {
  /** Base64 of the 32-byte Ed25519 identity key. */
  key: string;
  /** Ids of custom DH groups already validated for this key. */
  groups: string[];
}

interface KnownHostsFile {
  version: 1;
  hosts: Record<string, HostEntry>;
}

/** What checking a server's key found. */
export type PinResult = "first_use" | "match";

/** The pinned keys of one client data dir. */
export class KnownHosts {
  readonly #path: string;
  readonly #file: KnownHostsFile;

  private constructor(path: string, file: KnownHostsFile) {
    this.#path = path;
    this.#file = file;
  }

  /** Loads the pins kept in `dataDir` (none if the file does not exist yet). */
  static async load(dataDir: string): Promise<KnownHosts> {
    const path = join(dataDir, KNOWN_HOSTS_FILE);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return new KnownHosts(path, { version: 1, hosts: {} });
      }
      throw error;
    }
    return new KnownHosts(path, parse(text, path));
  }

  /** Ids of the custom groups validated for the key pinned at `host`. */
  validatedGroups(host: string): ReadonlySet<string> {
    return new Set(this.#file.hosts[host]?.groups ?? []);
  }

  /**
   * Checks `identity` against the pin for `host`. Throws HandshakeError
   * `server_key_changed` (both fingerprints, and what to do) on a mismatch.
   * `expectedFingerprint`, when given, must match whatever is pinned.
   */
  check(host: string, identity: Uint8Array, expectedFingerprint?: string): PinResult {
    const presented = fingerprint(identity);
    if (expectedFingerprint !== undefined && expectedFingerprint !== presented) {
      throw new HandshakeError(
        "server_key_mismatch",
        "server_identity",
        `server ${host} presented key ${presented}, not the expected ${expectedFingerprint}`,
        { hint: "check --server-fingerprint against the output of `ssp-server fingerprint`" },
      );
    }
    const entry = this.#file.hosts[host];
    if (!entry) return "first_use";
    const pinned = decodeKey(entry.key);
    if (constantTimeEqual(pinned, identity)) return "match";
    if (expectedFingerprint !== undefined) return "first_use"; // explicit pin replaces the old one
    throw new HandshakeError(
      "server_key_changed",
      "server_identity",
      `server key for ${host} changed: pinned ${fingerprint(pinned)}, presented ${presented}`,
      {
        hint:
          `someone may be intercepting the connection. If the server was reinstalled, ask its ` +
          `operator for the new fingerprint (\`ssp-server fingerprint\`) and reconnect with ` +
          `--server-fingerprint ${presented}`,
      },
    );
  }

  /** Pins `identity` for `host` (replacing any old pin) and remembers a validated group. */
  async remember(host: string, identity: Uint8Array, groupId?: string): Promise<void> {
    const key = encodeKey(identity);
    const old = this.#file.hosts[host];
    const sameKey = old?.key === key;
    if (sameKey && (groupId === undefined || old.groups.includes(groupId))) return;
    const groups = sameKey ? [...old.groups] : [];
    if (groupId !== undefined) groups.push(groupId);
    this.#file.hosts[host] = { key, groups };
    await Deno.mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
    const temporary = `${this.#path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(temporary, JSON.stringify(this.#file, null, 2) + "\n", {
      mode: 0o600,
    });
    await Deno.rename(temporary, this.#path);
  }
}

function parse(text: string, path: string): KnownHostsFile {
  const bad = () =>
    new SspError("bad_known_hosts", `${path} is not a valid pinned-keys file`, {
      hint: "fix or delete it (deleting forgets every pinned server key)",
    });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new SspError("bad_known_hosts", `${path} is not valid JSON`, { cause });
  }
  if (typeof value !== "object" || value === null) throw bad();
  const file = value as Partial<KnownHostsFile>;
  if (file.version !== 1 || typeof file.hosts !== "object" || file.hosts === null) throw bad();
  for (const entry of Object.values(file.hosts)) {
    if (typeof entry?.key !== "string" || !Array.isArray(entry.groups)) throw bad();
    if (decodeKey(entry.key).length !== 32) throw bad();
  }
  return file as KnownHostsFile;
}

function encodeKey(key: Uint8Array): string {
  return btoa(String.fromCharCode(...key));
}

function decodeKey(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
