/**
 * `deno task compile [--target TRIPLE]`: builds stand-alone binaries of
 * ssp-server and ssp-client with `deno compile`, asking only for the
 * permissions ssp needs: dist/ssp-server and dist/ssp-client for this
 * machine, or dist/ssp-server-TRIPLE (`.exe` on Windows) for a release target.
 * `deno compile` needs Deno's runtime (denort) for the target: it downloads
 * it, or takes the file named by DENORT_BIN on machines without that download.
 *
 * This file is the one list of release targets and permissions;
 * .github/workflows/release.yml names the same targets (tests/release_test.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";

/** The Deno permissions both binaries are compiled with (the `server` task's). */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=osRelease,uid", // the MongoDB driver reads these (ssp-server --mongo)
  // The system's libcrypto for the record and file ciphers (lib/crypto/aead_backend.ts); loaded by
  // its soname, so the grant cannot name a path that holds on every distribution.
  "--allow-ffi",
  "--unstable-net", // Deno.listen's reusePort (ssp-server --reuse-port)
] as const;

/**
 * The server's V8 flags (the `server` and `start` tasks and the server
 * binary). `--optimize-for-size` keeps V8's heap close to what is live
 * instead of growing it for speed: idle logged-in connections cost about
 * 18 KiB each with it and 29 KiB without, with no loss of message throughput
 * measured (docs/scaling.md, "Memory").
 */
export const SERVER_V8_FLAGS = ["--v8-flags=--optimize-for-size"] as const;

/** The targets a release is built for: Linux and macOS on x64 and arm64, Windows on x64. */
export const RELEASE_TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** A release target. */
export type Target = typeof RELEASE_TARGETS[number];

/** Entry point and binary name of each program. */
export const PROGRAMS = [["server.ts", "ssp-server"], ["client.ts", "ssp-client"]] as const;

/** Where the binary `name` for `target` (none: this machine) is written. */
export function outputPath(name: string, target?: Target): string {
  if (!target) return `dist/${name}`;
  return `dist/${name}-${target}${target.endsWith("-windows-msvc") ? ".exe" : ""}`;
}

/** The `deno compile` arguments that build `entry` into `output`. */
export function compileArgs(entry: string, output: string, target?: Target): string[] {
  return [
    "compile",
    ...PERMISSIONS,
    ...(entry === "server.ts" ? SERVER_V8_FLAGS : []),
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    entry,
  ];
}

function usage(message: string): never {
  console.error(
    `error: ${message}\nusage: deno task compile [--target TRIPLE]\n` +
      `targets: ${RELEASE_TARGETS.join(", ")}`,
  );
  Deno.exit(2);
}

/** Parses `[--target TRIPLE]`. */
function parseTarget(args: string[]): Target | undefined {
  let target: string | undefined;
  try {
    target = parseArgs({ args, options: { target: { type: "string" } } }).values.target;
  } catch (error) {
    usage((error as Error).message);
  }
  if (target !== undefined && !(RELEASE_TARGETS as readonly string[]).includes(target)) {
    usage(`unknown target ${target}`);
  }
  return target as Target | undefined;
}

async function main(args: string[]): Promise<void> {
  const target = parseTarget(args);
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    try {
      await Deno.stat(denort);
    } catch {
      console.error(`error: DENORT_BIN=${denort} does not exist`);
      Deno.exit(1);
    }
  }
  for (const [entry, name] of PROGRAMS) {
    const output = outputPath(name, target);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(entry, output, target),
      env: denort ? { DENORT_BIN: denort } : {},
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) {
      console.error(
        `error: deno compile ${entry} failed (exit ${code}).\n` +
          "hint: deno compile downloads Deno's runtime (denort) for the target. On a machine " +
          "that cannot download it, set DENORT_BIN to a denort binary of the same Deno version " +
          `(${Deno.version.deno}) for the target, or use \`deno task bundle\`, which needs no download.`,
      );
      Deno.exit(code);
    }
    console.log(output);
  }
}

if (import.meta.main) await main(Deno.args);
