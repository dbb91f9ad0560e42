/**
 * The server's long-term Ed25519 identity key, kept in its data dir.
 *
 * Created on first start (file mode 0600, written to a temporary name and
 * renamed so a crash never leaves half a key), then loaded on every start.
 * Clients pin its public key, so losing this file means every client sees a
 * changed key: back it up with the data dir.
 *
 * @module
 */
import { join } from "node:path";
import type { ServerIdentity } from "../handshake/mod.ts";
import { generateSigningKeyPair } from "../crypto/mod.ts";
import { SspError } from "../errors.ts";

/** Name of the identity key file inside the server's data dir. */
export const IDENTITY_FILE = "identity.pem";

const PEM_LABEL = "PRIVATE KEY";

/** Loads the identity from `dataDir`, creating it (and the dir) on first start. */
export async function loadOrCreateIdentity(
  dataDir: string,
): Promise<ServerIdentity & { created: boolean }> {
  const path = join(dataDir, IDENTITY_FILE);
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (text !== undefined) {
    const privateKeyPkcs8 = decodePem(text, path);
    return { privateKeyPkcs8, publicKey: await publicKeyOf(privateKeyPkcs8, path), created: false };
  }
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pair = await generateSigningKeyPair();
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temporary, encodePem(pair.privateKeyPkcs8), { mode: 0o600 });
  await Deno.chmod(temporary, 0o600); // mode above is masked by the umask
  await Deno.rename(temporary, path);
  return { ...pair, created: true };
}

/** Reads the identity without creating one; throws if there is none. */
export async function loadIdentity(dataDir: string): Promise<ServerIdentity> {
  const path = join(dataDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SspError("no_identity", `no server identity at ${path}`, {
        hint: "start the server once with this --data dir to create it",
      });
    }
    throw error;
  }
  const privateKeyPkcs8 = decodePem(text, path);
  return { privateKeyPkcs8, publicKey: await publicKeyOf(privateKeyPkcs8, path) };
}

function encodePem(der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${PEM_LABEL}-----\n${lines.join("\n")}\n-----END ${PEM_LABEL}-----\n`;
}

function decodePem(text: string, path: string): Uint8Array {
  const match = text.match(
    new RegExp(`-----BEGIN ${PEM_LABEL}-----([A-Za-z0-9+/=\\s]+)-----END ${PEM_LABEL}-----`),
  );
  if (!match?.[1]) throw corrupt(path);
  try {
    return Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch (cause) {
    throw corrupt(path, cause);
  }
}

async function publicKeyOf(privateKeyPkcs8: Uint8Array, path: string): Promise<Uint8Array> {
  try {
    const key = await crypto.subtle.importKey(
      "pkcs8",
      privateKeyPkcs8 as Uint8Array<ArrayBuffer>,
      { name: "Ed25519" },
      true,
      ["sign"],
    );
    const jwk = await crypto.subtle.exportKey("jwk", key);
    const x = jwk.x!.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(x), (c) => c.charCodeAt(0));
  } catch (cause) {
    throw corrupt(path, cause);
  }
}

function corrupt(path: string, cause?: unknown): SspError {
  return new SspError("bad_identity", `server identity file ${path} is not an Ed25519 key`, {
    hint: "restore it from a backup; deleting it creates a new key that every client will refuse",
    cause,
  });
}
