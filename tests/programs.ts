/**
 * Running ssp's programs as a user would: real processes, flags,
 * environment variables, standard input and signals.
 *
 * @module
 */
import { within } from "../lib/testing/mod.ts";
import { SERVER_V8_FLAGS } from "../scripts/compile.ts";

export const ROOT = new URL("..", import.meta.url).pathname;
/** How long a spawned server has to start listening (a cold npm cache included). */
const SPAWN_DEADLINE_MS = 120_000;

/** What `deno task server` and `deno task client` grant (FFI: libcrypto, see lib/crypto/aead_backend.ts). */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
  permissions: readonly string[] = PERMISSIONS,
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/**
 * Starts the server program and waits for its `listening` log line;
 * `extra` adds flags and environment variables, and a port (any free one
 * unless given).
 */
export async function spawnServer(
  script: string,
  dataDir: string,
  extra: { args?: string[]; env?: Record<string, string>; port?: number } = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      ...SERVER_V8_FLAGS,
      script,
      "--port",
      String(extra.port ?? 0),
      "--log-format",
      "json",
      ...extra.args ?? [],
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", SSP_DATA: dataDir, ...extra.env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const log: Record<string, unknown>[] = [];
  const listening = async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`server exited before listening:\n${buffered}`);
      buffered += value;
      const complete = buffered.split("\n");
      buffered = complete.pop()!;
      // Deno may print other lines on stderr before the server's own (for example
      // "Download https://…" while it fills an empty npm cache): keep only JSON.
      for (const line of complete) {
        const event = parseLogLine(line);
        if (event) log.push(event);
      }
      const listening = log.find((e) => e.event === "listening");
      if (listening) {
        const rest = (async () => {
          for (;;) {
            const { value, done } = await lines.read();
            if (done) return buffered;
            buffered += value;
          }
        })();
        return {
          child,
          port: listening.port as number,
          fingerprint: listening.fingerprint,
          /** The `crypto` event: which AEAD backend the server runs. */
          crypto: log.find((e) => e.event === "crypto"),
          rest,
        };
      }
    }
  };
  try {
    // A cold start may first download npm packages: generous, but bounded.
    return await within(listening(), {
      what: `${script} to log "listening"`,
      deadlineMs: SPAWN_DEADLINE_MS,
    });
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
}

/** The JSON object on a log line, or null for any other line. */
export function parseLogLine(line: string): Record<string, unknown> | null {
  if (!line.startsWith("{")) return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null;
  } catch {
    return null;
  }
}

/**
 * Stops a server started by {@linkcode spawnServer} (SIGTERM), removes
 * `dirs`, and returns its exit code and the rest of its log.
 */
export async function stopServer(
  server: Awaited<ReturnType<typeof spawnServer>>,
  ...dirs: string[]
): Promise<{ code: number; log: string }> {
  server.child.kill("SIGTERM");
  const { code } = await server.child.status;
  const log = await server.rest;
  for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  return { code, log };
}
