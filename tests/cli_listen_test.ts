/**
 * `ssp-client listen` as a script sees it: a clean stop (SIGTERM) exits 0;
 * with `--no-reconnect` a dropped connection exits non-zero with an error (a
 * JSON object with `--json`), so the two can be told apart. (Without it,
 * listen logs in again: tests/cli_reconnect_test.ts.)
 */
import assert from "node:assert/strict";
import { lines } from "../lib/ui/mod.ts";
import { tempDir } from "./harness.ts";
import { PERMISSIONS, ROOT, run, spawnServer, stopServer } from "./programs.ts";

const BOB = "+12015550102";
const PASSWORD = "correct horse battery staple";

/** Starts `listen` for BOB and waits until it is listening; returns its output lines. */
async function startListen(
  env: Record<string, string>,
  dir: string,
  json: boolean,
  flags: string[] = [],
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      "client.ts",
      "listen",
      "--phone",
      BOB,
      "--data",
      dir,
      ...(json ? ["--json"] : []),
      ...flags,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = lines(child.stdout);
  const stderr = lines(child.stderr);
  if (json) {
    assert.equal(JSON.parse((await stdout.next()).value).type, "listening");
  } else {
    // Deno may print download lines first; the client's note ends the wait.
    for (;;) {
      const { value, done } = await stderr.next();
      assert.ok(!done, "listen exited before listening");
      if (value.startsWith("listening as ")) break;
    }
  }
  const rest = async (it: AsyncGenerator<string>) => {
    const out: string[] = [];
    for await (const line of it) out.push(line);
    return out;
  };
  return { child, stdout: rest(stdout), stderr: rest(stderr) };
}

Deno.test("listen --no-reconnect exits non-zero with connection_lost when the server goes away, 0 when stopped", async () => {
  const serverDir = await tempDir("ssp-server-");
  const bobDir = await tempDir("ssp-client-");
  const server = await spawnServer("server.ts", serverDir);
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: PASSWORD };
  let killed = false;
  try {
    const registered = await run("client.ts", ["register", "--phone", BOB, "--data", bobDir], env);
    assert.equal(registered.code, 0, registered.stderr);

    // Stopped on purpose: success.
    const stopped = await startListen(env, bobDir, true);
    stopped.child.kill("SIGTERM");
    const stoppedOut = await stopped.stdout;
    assert.equal(
      (await stopped.child.status).code,
      0,
      stoppedOut.join("\n") + (await stopped.stderr).join("\n"),
    );
    assert.deepEqual(stoppedOut, []);

    // The server dies under two listeners, one with --json and one without.
    const json = await startListen(env, bobDir, true, ["--no-reconnect"]);
    const text = await startListen(env, bobDir, false, ["--no-reconnect"]);
    server.child.kill("SIGKILL");
    killed = true;
    await server.child.status;

    assert.equal((await json.child.status).code, 1);
    const printed = await json.stdout;
    assert.equal(printed.length, 1, printed.join("\n"));
    const { error } = JSON.parse(printed[0]!);
    assert.equal(error.code, "connection_lost");
    assert.match(
      error.message,
      new RegExp(`lost the connection to 127\\.0\\.0\\.1:${server.port}`),
    );
    assert.match(error.hint, /run listen again/);
    await json.stderr;

    assert.equal((await text.child.status).code, 1);
    assert.deepEqual(await text.stdout, []);
    const stderr = (await text.stderr).join("\n");
    assert.match(stderr, /error: lost the connection to 127\.0\.0\.1/);
    assert.match(stderr, /hint: the server stopped/);
  } finally {
    if (killed) {
      await server.rest;
      for (const dir of [serverDir, bobDir]) await Deno.remove(dir, { recursive: true });
    } else {
      await stopServer(server, serverDir, bobDir);
    }
  }
});
