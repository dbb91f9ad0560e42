/**
 * Getting back online after the connection drops: waits that grow from
 * half a second to half a minute (with jitter, so clients cut off together by
 * a server restart do not all come back in the same instant), and a loop that
 * logs in again until it succeeds or is stopped.
 *
 * @module
 */
import { isLoginFailure, type Session } from "../client/mod.ts";

/** First wait before reconnecting, in milliseconds. */
export const RECONNECT_FIRST_MS = 500;

/** Longest wait between two attempts, in milliseconds. */
export const RECONNECT_MAX_MS = 30_000;

/** How far each wait is spread around its nominal value (±20%). */
const JITTER = 0.2;

/** The wait before attempt `attempt` (0 = the first), given a random number in [0, 1). */
export function backoffMs(attempt: number, random: number = Math.random()): number {
  const nominal = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** Math.min(attempt, 16));
  return Math.round(nominal * (1 - JITTER + 2 * JITTER * random));
}

/** Resolves after `ms`, or at once (false) when `signal` aborts; true when the time passed. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (passed: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(passed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort);
  });
}

/**
 * Logs in again with `login` until it works, waiting {@linkcode backoffMs}
 * between attempts and telling `report` about each failure. Returns null when
 * `signal` aborts first. A refused password is not retried (it will not get
 * better): it is thrown.
 */
export async function reconnect(
  login: () => Promise<Session>,
  signal: AbortSignal,
  report: (error: Error, nextInMs: number) => void,
): Promise<Session | null> {
  for (let attempt = 0;; attempt++) {
    if (!await sleep(backoffMs(attempt), signal)) return null;
    try {
      const session = await login();
      if (!signal.aborted) return session;
      session.close();
      return null;
    } catch (error) {
      if (isLoginFailure(error)) throw error;
      report(error as Error, backoffMs(attempt + 1, 0.5));
    }
  }
}
