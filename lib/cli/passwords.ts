/**
 * Asking for passwords on the terminal: a new one until it is long enough
 * and typed the same twice, and logging in with another try after a typo
 * instead of giving up (or offering to register a number that has an account).
 *
 * @module
 */
import { ClientState, isLoginFailure, type Session } from "../client/mod.ts";
import type { Incoming } from "../client/mod.ts";
import { MIN_PASSWORD_CHARS } from "../e2e/mod.ts";
import { SspError } from "../errors.ts";
import { normalizePhone } from "../phone.ts";
import { confirm, Output, promptSecret } from "../ui/mod.ts";
import { type AccountOptions, readPassword, sessionFor } from "./account_options.ts";

/** Password tries in one interactive login before it gives up. */
export const MAX_PASSWORD_TRIES = 3;

const say = (line: string) => new Output(false).note(line);

/**
 * A new password typed on the terminal (no echo): asked again while it is
 * shorter than the minimum, then asked a second time to catch a typo.
 * `first`, if given, is a password already typed, checked the same way.
 */
export async function promptNewPassword(first?: string): Promise<string> {
  let candidate = first;
  for (;;) {
    candidate ??= await promptSecret("New password: ");
    if ([...candidate.normalize("NFC")].length < MIN_PASSWORD_CHARS) {
      say(`too short: a password has at least ${MIN_PASSWORD_CHARS} characters; try again`);
      candidate = undefined;
      continue;
    }
    if (await promptSecret("Repeat the password: ") === candidate) return candidate;
    say("the two passwords differ; try again");
    candidate = undefined;
  }
}

/** Whether this data dir has logged in to `phone` before (so the account exists). */
async function knownHere(dataDir: string, phone: string): Promise<boolean> {
  const state = await ClientState.open(dataDir, phone);
  try {
    return state.localAccount(phone) !== null;
  } finally {
    state.close();
  }
}

/**
 * Logs in for the interactive session. After a refused password on a
 * terminal it asks again (up to {@linkcode MAX_PASSWORD_TRIES} tries), and
 * offers to register only a number not known to have an account: not one
 * this data dir logged in to, nor one the server answered `phone_taken` for
 * (login failures themselves say nothing, by design: protocol §6.8).
 * Returns the session and the password (kept to log in again after a drop).
 */
export async function interactiveLogin(
  options: AccountOptions,
  onIncoming: (incoming: Incoming) => void,
): Promise<{ session: Session; password: string }> {
  const phone = normalizePhone(options.phone, options.region);
  const scripted = Deno.env.get("SSP_PASSWORD") !== undefined || Boolean(options.passwordStdin);
  let password = await readPassword(options);
  let exists = await knownHere(options.data, phone);
  for (let tries = 1;; tries++) {
    try {
      return { session: await sessionFor(options, password, "login", onIncoming), password };
    } catch (error) {
      // No account has a password under the minimum: a short one is just a wrong one here.
      const refused = isLoginFailure(error) ||
        error instanceof SspError && error.code === "password_too_short";
      if (!refused || !Deno.stdin.isTerminal()) throw error;
      if (scripted && exists) throw error;
    }
    if (
      !exists &&
      confirm(
        `Login failed: wrong password, or ${phone} has no account yet. Register ${phone} now?`,
      )
    ) {
      const chosen = scripted ? password : await promptNewPassword(password);
      try {
        return {
          session: await sessionFor(options, chosen, "register", onIncoming),
          password: chosen,
        };
      } catch (error) {
        if (!(error instanceof SspError && error.code === "phone_taken")) throw error;
        exists = true;
        say(`${phone} already has an account, so the password was wrong`);
      }
    } else if (exists) {
      say("wrong password");
    }
    if (scripted || tries >= MAX_PASSWORD_TRIES) {
      throw new SspError("auth_failed", "wrong number or password", {
        hint: "check the number; `ssp-client passwd` changes a password you know",
      });
    }
    password = await promptSecret("Password: ");
  }
}
