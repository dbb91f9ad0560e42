/**
 * A server program with registered users, for end-to-end tests of the
 * client program: each user has a data dir, and the server can stop and
 * start again on the same port with its data.
 *
 * @module
 */
import assert from "node:assert/strict";
import { tempDir } from "./harness.ts";
import { PERMISSIONS, ROOT, run, spawnServer } from "./programs.ts";

/** Password of every user of a {@linkcode cliWorld}. */
export const PASSWORD = "correct horse battery staple";

/** A running server and its users. */
export interface CliWorld {
  /** SSP_SERVER and SSP_PASSWORD for the client program. */
  env: Record<string, string>;
  /** `--phone PHONE --data DIR` for a user. */
  as(phone: string): string[];
  /** Stops the server, keeping its data. */
  halt(): Promise<void>;
  /** Starts the server again on the same port, with the same data. */
  restart(): Promise<void>;
  /** Stops the server and removes every data dir. */
  cleanup(): Promise<void>;
}

/** Starts the server program and registers `phones` with the client program. */
export async function cliWorld(phones: string[]): Promise<CliWorld> {
  const serverDir = await tempDir("ssp-server-");
  let server: Awaited<ReturnType<typeof spawnServer>> | null = await spawnServer(
    "server.ts",
    serverDir,
  );
  const port = server.port;
  const env = { SSP_SERVER: `127.0.0.1:${port}`, SSP_PASSWORD: PASSWORD };
  const dirs = new Map<string, string>();
  for (const phone of phones) dirs.set(phone, await tempDir("ssp-client-"));
  const as = (phone: string) => ["--phone", phone, "--data", dirs.get(phone)!];
  const halt = async () => {
    if (!server) return;
    server.child.kill("SIGTERM");
    await server.child.status;
    await server.rest;
    server = null;
  };
  try {
    for (const phone of phones) {
      const registered = await run("client.ts", ["register", ...as(phone)], env);
      assert.equal(registered.code, 0, registered.stderr);
    }
  } catch (error) {
    await halt();
    throw error;
  }
  return {
    env,
    as,
    halt,
    async restart() {
      server = await spawnServer("server.ts", serverDir, { port });
    },
    async cleanup() {
      await halt();
      for (const dir of [serverDir, ...dirs.values()]) {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/** `client.ts listen` for `phone`, with `flags`, its output piped. */
export function listenProcess(world: CliWorld, phone: string, flags: string[] = []) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, "client.ts", "listen", ...world.as(phone), ...flags],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...world.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
