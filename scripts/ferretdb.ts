/**
 * FerretDB for tests: builds our small launcher (`scripts/ferretdb/`) once
 * into a cache directory outside the repository, and starts it on 127.0.0.1
 * with a temporary SQLite backend.
 *
 * No MongoDB server can be installed from the registries our machines reach;
 * FerretDB speaks the MongoDB wire protocol and its Go module is on the Go
 * module proxy. The upstream `cmd/ferretdb` binary panics at start-up when
 * built with `go install` (its version file is not in the module), hence the
 * launcher on FerretDB's embeddable package.
 *
 * Run directly to get a server for manual use (Ctrl-C stops it):
 * `deno run -A scripts/ferretdb.ts`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { MongoClient } from "mongodb";

/** The FerretDB release the launcher's go.mod pins. */
export const FERRETDB_VERSION = "v1.24.2";

const LAUNCHER_SOURCE = new URL("./ferretdb/", import.meta.url);
const SOURCE_FILES = ["go.mod", "go.sum", "main.go"] as const;
/** How long a fresh server gets to answer its first ping. */
const READY_TIMEOUT_MS = 30_000;
/** How long a freeze may take to stop every thread of FerretDB. */
const FREEZE_TIMEOUT_MS = 5_000;
/** How long SIGTERM gets before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * The cache directory of built launchers: `$SSP_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/ssp`, else `~/.cache/ssp`. Outside the repository so that
 * CI keeps it between runs and a clean clone reuses it.
 */
export function cacheDir(): string {
  const explicit = Deno.env.get("SSP_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "ssp");
  // $HOME rather than os.homedir(): the latter needs --allow-sys.
  const home = Deno.env.get("HOME");
  if (!home) throw new Error("Cannot find a cache directory: set SSP_CACHE_DIR or HOME");
  return join(home, ".cache", "ssp");
}

/**
 * Returns the path of the launcher binary, building it with `go build` first
 * if it is not in the cache. The file name carries a hash of the launcher's
 * sources, so editing them (or bumping FerretDB) builds a new binary.
 *
 * @throws {Error} with a hint if Go is missing or the build fails.
 */
export async function ensureFerretDb(): Promise<string> {
  const hash = createHash("sha256");
  for (const file of SOURCE_FILES) hash.update(await Deno.readFile(new URL(file, LAUNCHER_SOURCE)));
  const dir = cacheDir();
  const binary = join(
    dir,
    `ferretdb-launcher-${FERRETDB_VERSION}-${hash.digest("hex").slice(0, 12)}`,
  );
  try {
    await Deno.stat(binary);
    return binary;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }

  await Deno.mkdir(dir, { recursive: true });
  // Build beside the target and rename, so a concurrent or interrupted build
  // never leaves a half-written binary under the final name.
  const partial = `${binary}.${Deno.pid}.partial`;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("go", {
      args: ["build", "-trimpath", "-o", partial, "."],
      cwd: LAUNCHER_SOURCE.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "Cannot build the FerretDB launcher: `go` is not on PATH. Install Go 1.24 or newer " +
          "(apt-get install golang-go, or https://go.dev/dl/), or set SSP_TEST_MONGO_URL to a " +
          "running MongoDB",
        { cause: error },
      );
    }
    throw error;
  }
  if (!output.success) {
    await Deno.remove(partial).catch(() => {});
    throw new Error(
      `Cannot build the FerretDB launcher (go build in ${LAUNCHER_SOURCE.pathname} exited ` +
        `${output.code}):\n${new TextDecoder().decode(output.stderr).trim()}\n` +
        "The first build downloads modules from the Go module proxy; check GOPROXY and the network",
    );
  }
  await Deno.rename(partial, binary);
  return binary;
}

/** Where and how to start FerretDB. */
export interface FerretDbOptions {
  /** TCP port on 127.0.0.1; 0 (the default) lets the kernel choose a free one. */
  port?: number;
  /** Directory of the SQLite backend; default: a new temporary directory. */
  dataDir?: string;
  /**
   * A PostgreSQL URL to use as the backend instead of SQLite, e.g.
   * `postgres://postgres@127.0.0.1:5432/postgres` (each MongoDB database is a
   * schema there; drop them with {@linkcode dropDatabase}).
   */
  postgresql?: string;
}

/** A running FerretDB. */
export interface FerretDb {
  /** MongoDB connection string, e.g. `mongodb://127.0.0.1:41234/`. */
  readonly url: string;
  /** The TCP port it listens on. */
  readonly port: number;
  /** Its process id while it runs, else null (benchmarks read its CPU time from /proc). */
  readonly pid: number | null;
  /** Directory of its SQLite backend. */
  readonly dataDir: string;
  /** Kills the process (SIGKILL: a crash, not a clean shutdown) but keeps the data. */
  halt(): Promise<void>;
  /** Starts it again, after {@linkcode FerretDb.halt}, on the same port and data. */
  restart(): Promise<void>;
  /**
   * Freezes (SIGSTOP) or thaws (SIGCONT) the process: connections stay open
   * but nothing answers, as with a hung database or a network partition.
   * Resolves once every thread of the process has stopped (Linux only).
   */
  freeze(frozen: boolean): Promise<void>;
  /** Stops it (SIGTERM) and deletes the data directory if this module created it. */
  stop(): Promise<void>;
}

/**
 * Builds the launcher if needed, starts FerretDB on 127.0.0.1 on the SQLite
 * backend and resolves once a MongoDB client can ping it.
 *
 * @throws {Error} if it cannot be built, exits early, or does not answer within 30 s.
 */
export async function startFerretDb(options: FerretDbOptions = {}): Promise<FerretDb> {
  const binary = await ensureFerretDb();
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "ssp-ferretdb-" });
  if (ownDir) ownedDirs.add(dataDir);
  const backend = options.postgresql ? ["-postgresql", options.postgresql] : ["-sqlite", dataDir];
  let process: LauncherProcess | null = null;
  try {
    process = await launch(binary, options.port ?? 0, backend);
  } catch (error) {
    if (ownDir) await removeOwnedDir(dataDir);
    throw error;
  }
  const { url, port } = process;

  return {
    url,
    port,
    get pid() {
      return process?.pid ?? null;
    },
    dataDir,
    async halt() {
      const running = process;
      process = null;
      await running?.kill("SIGKILL");
    },
    async freeze(frozen) {
      if (process === null) throw new Error("FerretDB is not running");
      process.signal(frozen ? "SIGSTOP" : "SIGCONT");
      // SIGCONT wakes every thread before kill() returns; SIGSTOP does not.
      if (frozen) await waitUntilStopped(process.pid);
    },
    async restart() {
      if (process !== null) throw new Error("FerretDB is already running; halt() it first");
      process = await launch(binary, port, backend);
    },
    async stop() {
      const running = process;
      process = null;
      running?.signal("SIGCONT"); // a frozen process cannot act on SIGTERM
      await running?.kill("SIGTERM");
      if (ownDir) await removeOwnedDir(dataDir);
    },
  };
}

/**
 * Stops a server from {@linkcode startFerretDb} (same as `server.stop()`).
 *
 * @param server The running server.
 */
export function stopFerretDb(server: FerretDb): Promise<void> {
  return server.stop();
}

/**
 * Resolves once process `pid` (a child of this one) has stopped: every one
 * of its threads, as reported by `waitid(P_PID, pid, WSTOPPED)`.
 *
 * kill(SIGSTOP) returns before the process stops: the kernel wakes one of
 * its threads, and only when that thread gets a CPU does it stop the
 * others. On a loaded machine that takes tens of milliseconds, during which
 * FerretDB's other threads go on answering requests.
 *
 * Polled with WNOHANG (a blocking waitid would tie up a thread of the
 * runtime) and WNOWAIT (the stop stays reported; Deno's own reaping of exited
 * children is not affected, as it does not ask for stops).
 *
 * @throws {Error} if it has not stopped within FREEZE_TIMEOUT_MS.
 */
async function waitUntilStopped(pid: number): Promise<void> {
  const { waitid } = libc();
  // siginfo_t is 128 bytes; si_pid (at 16 on 64-bit Linux) stays 0 while
  // no stop is reported.
  const info = new Int32Array(32);
  const deadline = performance.now() + FREEZE_TIMEOUT_MS;
  for (;;) {
    info.fill(0);
    if (waitid(P_PID, pid, info, WSTOPPED | WNOHANG | WNOWAIT) !== 0) {
      throw new Error(`waitid() failed for FerretDB (pid ${pid}); has it exited?`);
    }
    if (info[4] === pid) return;
    if (performance.now() > deadline) {
      throw new Error(
        `FerretDB (pid ${pid}) did not stop within ${FREEZE_TIMEOUT_MS} ms of SIGSTOP`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const P_PID = 1;
const WNOHANG = 1;
const WSTOPPED = 2;
const WNOWAIT = 0x1000000;

const LIBC_SYMBOLS = {
  waitid: { parameters: ["i32", "i32", "buffer", "i32"], result: "i32" },
} as const;
let libcSymbols: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] | undefined;

/** waitid(2) from the C library, loaded on first use (only freeze() needs it). */
function libc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  libcSymbols ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return libcSymbols;
}

/** Drops database `dbName` on the server at `url` (what tests and benchmarks do when done). */
export async function dropDatabase(url: string, dbName: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.db(dbName).dropDatabase();
  } finally {
    await client.close();
  }
}

/**
 * Launchers and data directories still alive, killed and deleted when this
 * process exits: a test file that starts FerretDB once at load time has no
 * later moment to stop it, and an orphaned server would outlive the run.
 */
const liveChildren = new Set<Deno.ChildProcess>();
const ownedDirs = new Set<string>();
globalThis.addEventListener("unload", () => {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }
  for (const dir of ownedDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* best effort */ }
  }
});

async function removeOwnedDir(dir: string): Promise<void> {
  ownedDirs.delete(dir);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

interface LauncherProcess {
  url: string;
  port: number;
  pid: number;
  kill(signal: "SIGTERM" | "SIGKILL"): Promise<void>;
  signal(signal: "SIGSTOP" | "SIGCONT"): void;
}

async function launch(
  binary: string,
  port: number,
  backend: string[],
): Promise<LauncherProcess> {
  const child = new Deno.Command(binary, {
    args: ["-listen", `127.0.0.1:${port}`, ...backend, "-log-level", "error"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  liveChildren.add(child);
  // Keep the tail of stderr for error messages; reading it also keeps the
  // pipe from filling up and blocking the server.
  let stderr = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void (stderr = (stderr + text).slice(-4000)) }),
  ).catch(() => {});
  const exited = child.status.then(async (status) => {
    liveChildren.delete(child);
    await stderrDone;
    return status;
  });

  const kill = async (signal: "SIGTERM" | "SIGKILL") => {
    try {
      child.kill(signal);
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  try {
    const url = await firstLine(child.stdout, exited, () => stderr);
    const match = /^mongodb:\/\/127\.0\.0\.1:(\d+)\/$/.exec(url);
    if (match === null) throw new Error(`FerretDB launcher printed an unexpected URI: ${url}`);
    await waitUntilReady(url, exited, () => stderr);
    const signal = (sig: "SIGSTOP" | "SIGCONT") => {
      try {
        child.kill(sig);
      } catch { /* already exited */ }
    };
    return { url, port: Number(match[1]), pid: child.pid, kill, signal };
  } catch (error) {
    await kill("SIGKILL");
    throw error;
  }
}

/** Reads the launcher's one line of output (its URI), then drains the rest. */
async function firstLine(
  stdout: ReadableStream<Uint8Array>,
  exited: Promise<Deno.CommandStatus>,
  stderr: () => string,
): Promise<string> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      const status = await exited;
      throw new Error(`FerretDB exited with code ${status.code} before listening:\n${stderr()}`);
    }
    text += value;
  }
  // Nothing more is expected, but keep reading so the pipe never fills.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  return text.slice(0, text.indexOf("\n")).trim();
}

/** Pings until FerretDB answers: the listener is bound before the backend is ready. */
async function waitUntilReady(
  url: string,
  exited: Promise<Deno.CommandStatus>,
  stderr: () => string,
): Promise<void> {
  let exitCode: number | null = null;
  exited.then((status) => exitCode = status.code);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    if (exitCode !== null) {
      throw new Error(`FerretDB exited with code ${exitCode} during start-up:\n${stderr()}`);
    }
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000 });
    try {
      await client.db("admin").command({ ping: 1 });
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.close();
    }
  }
  throw new Error(`FerretDB at ${url} did not answer a ping within ${READY_TIMEOUT_MS} ms`, {
    cause: lastError,
  });
}

if (import.meta.main) {
  const started = performance.now();
  const server = await startFerretDb();
  console.error(
    `FerretDB ${FERRETDB_VERSION} ready in ${
      Math.round(performance.now() - started)
    } ms, data in ${server.dataDir}; Ctrl-C stops it`,
  );
  console.log(server.url);
  const shutdown = async () => {
    await server.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", shutdown);
  Deno.addSignalListener("SIGTERM", shutdown);
}
