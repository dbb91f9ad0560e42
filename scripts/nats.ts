/**
 * A private NATS server for tests and benchmarks: `nats-server` (Debian's
 * package, which every machine of ours has) started on a free 127.0.0.1
 * port, so a test can stop and restart its bus without touching the shared
 * one at the standard port 4222.
 *
 * Run directly to get one for manual use (Ctrl-C stops it):
 * `deno run -A scripts/nats.ts`.
 *
 * @module
 */

/** How long a fresh server gets to report that it listens. */
const READY_TIMEOUT_MS = 10_000;

/** A running nats-server. */
export interface NatsServer {
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Its process id while it runs, else null (benchmarks read its CPU time from /proc). */
  readonly pid: number | null;
  /** Kills it (SIGKILL), as a crash would. */
  halt(): Promise<void>;
  /** Starts it again on the same port, after {@linkcode NatsServer.halt}. */
  restart(): Promise<void>;
  /** Stops it for good. */
  stop(): Promise<void>;
}

/**
 * The nats-server binary: `$SSP_NATS_SERVER`, else the first `nats-server`
 * on PATH or in /usr/sbin, /usr/local/bin.
 *
 * @throws {Error} with a hint if there is none.
 */
export function findNatsServer(): string {
  const explicit = Deno.env.get("SSP_NATS_SERVER");
  if (explicit) return explicit;
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/local/bin"];
  for (const dir of dirs.filter(Boolean)) {
    try {
      if (Deno.statSync(`${dir}/nats-server`).isFile) return `${dir}/nats-server`;
    } catch { /* not here */ }
  }
  throw new Error(
    "nats-server not found (looked on PATH, /usr/sbin, /usr/local/bin); " +
      "install it (Debian: apt-get install nats-server) or set SSP_NATS_SERVER",
  );
}

const live = new Set<Deno.ChildProcess>();
globalThis.addEventListener("unload", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }
});

/** Starts a nats-server on 127.0.0.1 (`port` 0: a free one) and resolves once it listens. */
export async function startNats(options: { port?: number } = {}): Promise<NatsServer> {
  const binary = findNatsServer();
  let running: Deno.ChildProcess | null = null;
  let port = options.port ?? 0;

  const launch = async () => {
    const child = new Deno.Command(binary, {
      args: ["-a", "127.0.0.1", "-p", String(port === 0 ? -1 : port)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    live.add(child);
    child.status.then(() => live.delete(child));
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), READY_TIMEOUT_MS);
    try {
      for (;;) {
        const match = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(text);
        if (match) {
          port = Number(match[1]);
          break;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`nats-server exited before listening:\n${text.slice(-2000)}`);
        text += value;
      }
    } finally {
      clearTimeout(timer);
    }
    // Keep draining so the pipe never fills.
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })().catch(() => {});
    running = child;
  };

  const kill = async (signal: "SIGTERM" | "SIGKILL") => {
    const child = running;
    running = null;
    if (!child) return;
    try {
      child.kill(signal);
    } catch { /* already exited */ }
    await child.status;
  };

  await launch();
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return (running as Deno.ChildProcess | null)?.pid ?? null;
    },
    halt: () => kill("SIGKILL"),
    async restart() {
      if (running) throw new Error("nats-server is already running; halt() it first");
      await launch();
    },
    stop: () => kill("SIGTERM"),
  };
}

if (import.meta.main) {
  const server = await startNats();
  console.log(server.url);
  Deno.addSignalListener("SIGINT", async () => {
    await server.stop();
    Deno.exit(0);
  });
}
