/**
 * What every account command shares: its options, the password (from the
 * environment, standard input or a prompt) and a logged-in session.
 *
 * @module
 */
import type { Incoming } from "../client/mod.ts";
import { openSession, type Session } from "../client/mod.ts";
import type { WireGroupName } from "../handshake/mod.ts";
import { normalizePhone } from "../phone.ts";
import type { Output } from "../ui/mod.ts";
import { promptSecret, readFirstLine } from "../ui/mod.ts";

/** Options every account command takes. */
export interface AccountOptions {
  phone: string;
  region?: string;
  server: string;
  data: string;
  serverFingerprint?: string;
  group?: WireGroupName;
  passwordStdin?: boolean;
}

/**
 * The password: SSP_PASSWORD, else the first line of stdin with
 * --password-stdin, else a prompt. The account's number is checked first,
 * so a mistyped number is reported before anyone types a password.
 *
 * @throws {SspError} `invalid_phone` (with a hint) if `options.phone` is not valid.
 */
export async function readPassword(
  options: AccountOptions,
  question = "Password: ",
): Promise<string> {
  normalizePhone(options.phone, options.region);
  const fromEnv = Deno.env.get("SSP_PASSWORD");
  if (fromEnv !== undefined) return fromEnv;
  if (options.passwordStdin) return await readFirstLine();
  return await promptSecret(question);
}

/** Opens a session for the command's account. */
export async function sessionFor(
  options: AccountOptions,
  password: string,
  mode: "login" | "register" = "login",
  onIncoming?: (incoming: Incoming) => void,
): Promise<Session> {
  return await openSession({
    server: options.server,
    dataDir: options.data,
    ...(options.serverFingerprint ? { serverFingerprint: options.serverFingerprint } : {}),
    ...(options.group ? { groups: [options.group] } : {}),
    phone: normalizePhone(options.phone, options.region),
    password,
    mode,
    ...(onIncoming ? { onIncoming } : {}),
  });
}

/** Runs `job` in a logged-in session and closes it. */
export async function withSession<T>(
  options: AccountOptions,
  out: Output,
  job: (session: Session) => Promise<T>,
): Promise<T> {
  const session = await sessionFor(options, await readPassword(options));
  if (session.connection.pin === "first_use") {
    out.note(`pinned the key of ${session.connection.server}: ${session.connection.fingerprint}`);
  }
  try {
    return await job(session);
  } finally {
    session.close();
  }
}
