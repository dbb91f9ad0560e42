/**
 * Running a program on a real pseudo-terminal, as a person at a keyboard
 * would: keys go in, everything the program draws comes out.
 *
 * Uses `script` from util-linux (Debian's essential bsdutils package, so on
 * every machine the tests run on): it opens the pty pair, runs the command
 * on the terminal side and relays our pipe to it.
 *
 * @module
 */
import { PERMISSIONS, ROOT } from "./programs.ts";

/** Terminal size the programs see. */
const COLUMNS = 200;
const ROWS = 50;

/** A program running on a pseudo-terminal. */
export interface Terminal {
  /** Types `keys` (raw bytes: "\r" is Enter, "\x1b[D" is ←). */
  type(keys: string): Promise<void>;
  /** Everything drawn so far, with terminal control sequences removed. */
  text(): string;
  /** Everything drawn so far, raw. */
  raw(): string;
  /** Waits until the drawn text after `from` matches `pattern` (or throws at the deadline). */
  waitFor(pattern: RegExp | string, from?: number, timeoutMs?: number): Promise<number>;
  /** Ends the program (Ctrl-D, then SIGTERM if it lingers) and returns its exit code. */
  close(): Promise<number>;
}

/** Starts `client.ts args…` on a pseudo-terminal with `env`. */
export function clientOnTerminal(args: string[], env: Record<string, string>): Terminal {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), "run", ...PERMISSIONS, "client.ts", ...args].map(quote)
    .join(" ");
  const child = new Deno.Command("script", {
    args: ["-q", "-e", "-c", `stty cols ${COLUMNS} rows ${ROWS}; exec ${command}`, "/dev/null"],
    cwd: ROOT,
    env: { NO_COLOR: "1", TERM: "xterm", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let raw = "";
  const waiters = new Set<() => void>();
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      raw += chunk;
      for (const wake of [...waiters]) wake();
    }
  })();
  const errors = new Response(child.stderr).text();
  const text = () => stripControls(raw);
  return {
    async type(keys) {
      await writer.write(new TextEncoder().encode(keys));
    },
    text,
    raw: () => raw,
    waitFor(pattern, from = 0, timeoutMs = 20_000) {
      const found = () => {
        const rest = text().slice(from);
        const index = typeof pattern === "string" ? rest.indexOf(pattern) : rest.search(pattern);
        return index < 0 ? -1 : from + index;
      };
      return new Promise((resolve, reject) => {
        const check = () => {
          const at = found();
          if (at < 0) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(at);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${pattern}; the terminal shows:\n${
                text().slice(from).slice(-2000)
              }`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      await writer.write(new TextEncoder().encode("\x04")).catch(() => {});
      const timer = setTimeout(() => child.kill("SIGTERM"), 10_000);
      const { code } = await child.status;
      clearTimeout(timer);
      await writer.close().catch(() => {});
      await reading;
      await errors;
      return code;
    },
  };
}

/** `text` without CSI/OSC escape sequences, carriage returns and bells. */
export function stripControls(text: string): string {
  return text
    // deno-lint-ignore no-control-regex -- removing terminal controls is the point
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "")
    // deno-lint-ignore no-control-regex -- removing terminal controls is the point
    .replace(/\x1b\][^\x07]*\x07/g, "")
    // deno-lint-ignore no-control-regex -- removing terminal controls is the point
    .replace(/\x1b[()][0-9A-B]/g, "")
    // deno-lint-ignore no-control-regex -- removing terminal controls is the point
    .replace(/[\r\x07]/g, "");
}
