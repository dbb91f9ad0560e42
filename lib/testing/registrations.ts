/**
 * Registrations as a script that creates accounts in bulk sends them: one
 * `register` request each, with random keys (the server cannot tell them
 * from real ones) and no scrypt on the client's side.
 *
 * @module
 */
import { type RpcConnection, ServerError } from "../client/mod.ts";
import { DEFAULT_KDF_PARAMS, encodeKdfParams } from "../e2e/mod.ts";

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** A `register` request for `phone` with random keys, and `authKey` if given (else random). */
export function rawRegistration(phone: string, authKey: Uint8Array = random(32)) {
  return {
    t: "register" as const,
    phone,
    salt: random(16),
    kdf: encodeKdfParams(DEFAULT_KDF_PARAMS),
    authKey,
    encryptionKey: random(32),
    signingKey: random(32),
    keyBackup: random(100),
  };
}

/**
 * Registers each of `phones` on `rpc`, one request after the other.
 * Resolves with each one's outcome: null if the account was created, else
 * the server's refusal.
 *
 * @throws anything but a refusal (a closed connection, say).
 */
export async function registerRaw(
  rpc: RpcConnection,
  phones: Iterable<string>,
): Promise<(ServerError | null)[]> {
  const outcomes: (ServerError | null)[] = [];
  for (const phone of phones) {
    try {
      await rpc.request(rawRegistration(phone));
      outcomes.push(null);
    } catch (error) {
      if (!(error instanceof ServerError)) throw error;
      outcomes.push(error);
    }
  }
  return outcomes;
}
