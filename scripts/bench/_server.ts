/**
 * A real `ssp-server` process for the benchmarks: started on a free port
 * with JSON logs, ready once it logs that it listens.
 *
 * @module
 */
import { join } from "node:path";
import { SERVER_V8_FLAGS } from "../compile.ts";
import { Proc } from "./_procs.ts";

/** This checkout's server. */
const SERVER = join(new URL("../../", import.meta.url).pathname, "server.ts");
/** How long a server gets to log that it listens (a cold start loads the MongoDB driver). */
const START_TIMEOUT_MS = 30_000;
/** The log line the server writes (on stderr) once it accepts connections. */
const LISTENING = /"event":"listening".*?"port":(\d+)/;

/** How to start a server with {@linkcode startServerProcess}. */
export interface ServerProcessOptions {
  /** Its data directory (`--data`). */
  dataDir: string;
  /** Server flags after `--port 0 --data DIR --log-format json`, e.g. `["--mongo", url]`. */
  flags?: string[];
  /**
   * Deno's flags for it (permissions, `--v8-flags=…`); default `["-A"]`. They
   * follow the server's own V8 flags (`SERVER_V8_FLAGS`), as the `server` task
   * runs it.
   */
  denoFlags?: string[];
  /** The `server.ts` to run; default this checkout's. */
  script?: string;
  /** Environment variables to set for it, on top of this process's. */
  env?: Record<string, string>;
}

/** A server from {@linkcode startServerProcess}. */
export interface ServerProcess {
  /** The process (its memory, CPU time and stderr). */
  proc: Proc;
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  /** `127.0.0.1:PORT`, as clients take it. */
  address: string;
}

/**
 * Starts `ssp-server` as a child process on port 0 and resolves once it
 * listens.
 *
 * @throws {Error} with the server's stderr if it exits or does not listen
 * within START_TIMEOUT_MS (it is stopped then).
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const proc = new Proc(Deno.execPath(), [
    "run",
    ...SERVER_V8_FLAGS,
    ...(options.denoFlags ?? ["-A"]),
    options.script ?? SERVER,
    ...["--port", "0", "--data", options.dataDir, "--log-format", "json"],
    ...(options.flags ?? []),
  ], options.env ? { env: options.env } : {});
  let exited = false;
  proc.exited.then(() => exited = true);
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (!exited && performance.now() < deadline) {
    const match = LISTENING.exec(proc.stderr);
    if (match) {
      const port = Number(match[1]);
      return { proc, port, address: `127.0.0.1:${port}` };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await proc.stop();
  throw new Error(
    `the server ${exited ? "exited" : `did not listen within ${START_TIMEOUT_MS} ms`}:\n` +
      proc.stderr,
  );
}
