/**
 * The two programs as a user runs them: from source and from the single-file
 * bundles, with real processes, flags, environment variables and signals.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { tempDir } from "./harness.ts";
import { aeadBackend, preferredSuites } from "../lib/crypto/mod.ts";
import { PERMISSIONS, ROOT, run, spawnServer, stopServer } from "./programs.ts";
import { PERMISSIONS as BINARY_PERMISSIONS, SERVER_V8_FLAGS } from "../scripts/compile.ts";

async function pingThroughPrograms(serverScript: string, clientScript: string): Promise<void> {
  const serverDir = await tempDir("ssp-server-");
  const clientDir = await tempDir("ssp-client-");
  const server = await spawnServer(serverScript, serverDir);
  try {
    const printed = await run(serverScript, ["fingerprint", "--json"], { SSP_DATA: serverDir });
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(JSON.parse(printed.stdout).fingerprint, server.fingerprint);

    const ping = await run(clientScript, [
      "ping",
      "--server",
      `127.0.0.1:${server.port}`,
      "--count",
      "2",
      "--json",
    ], { SSP_CLIENT_DATA: clientDir });
    assert.equal(ping.code, 0, ping.stderr);
    const results = ping.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(results.length, 2);
    assert.equal(results[0].fingerprint, server.fingerprint);
    assert.equal(results[0].pin, "first_use");
    assert.equal(results[1].seq, 2);
    assert.ok(results[1].rttMs >= 0);
    // Both programs run the same backend as this test (the same permissions, the same
    // machine), say so, and agree on the suite it prefers.
    const backend = aeadBackend().info;
    assert.equal(server.crypto?.backend, backend.name);
    assert.match(
      results[0].crypto,
      new RegExp(`^${backend.name === "openssl" ? "OpenSSL" : "node"}`),
    );
    assert.equal(results[0].suite, preferredSuites()[0]);
  } finally {
    const { code, log } = await stopServer(server, serverDir, clientDir);
    assert.equal(code, 0, log);
    assert.match(log, /"event":"stopped"/);
  }
}

/** A file sent and fetched through the programs: the client's encryption thread must load. */
async function fileThroughPrograms(serverScript: string, clientScript: string): Promise<void> {
  const [serverDir, aliceDir, bobDir, work] = [
    await tempDir("ssp-server-"),
    await tempDir("ssp-alice-"),
    await tempDir("ssp-bob-"),
    await tempDir("ssp-files-"),
  ];
  const server = await spawnServer(serverScript, serverDir);
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: "correct horse battery" };
  const as = (phone: string, dir: string) => ["--phone", phone, "--data", dir, "--json"];
  try {
    for (const [phone, dir] of [["+12015550101", aliceDir], ["+12015550102", bobDir]] as const) {
      const registered = await run(clientScript, ["register", ...as(phone, dir)], env);
      assert.equal(registered.code, 0, registered.stderr);
    }
    const content = new Uint8Array(randomBytes(700_000));
    await Deno.writeFile(`${work}/data.bin`, content);
    const sent = await run(clientScript, [
      "send-file",
      ...as("+12015550101", aliceDir),
      "--to",
      "+12015550102",
      `${work}/data.bin`,
    ], env);
    assert.equal(sent.code, 0, sent.stderr);
    const { fileId } = JSON.parse(sent.stdout.trim().split("\n").at(-1)!);
    const got = await run(
      clientScript,
      ["get-file", fileId, "--out", `${work}/in`, ...as("+12015550102", bobDir)],
      env,
    );
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(await Deno.readFile(`${work}/in/data.bin`), content);
  } finally {
    await stopServer(server, serverDir, aliceDir, bobDir, work);
  }
}

Deno.test("ssp-server and ssp-client ping each other, and the server stops cleanly on SIGTERM", async () => {
  await pingThroughPrograms("server.ts", "client.ts");
});

Deno.test("a client run without --allow-ffi falls back to node:crypto and ChaCha20-Poly1305", async () => {
  const serverDir = await tempDir("ssp-server-");
  const clientDir = await tempDir("ssp-client-");
  const server = await spawnServer("server.ts", serverDir);
  try {
    const ping = await run(
      "client.ts",
      ["ping", "--server", `127.0.0.1:${server.port}`, "--json"],
      { SSP_CLIENT_DATA: clientDir },
      undefined,
      PERMISSIONS.filter((flag) => flag !== "--allow-ffi"),
    );
    assert.equal(ping.code, 0, ping.stderr);
    const result = JSON.parse(ping.stdout.trim());
    assert.match(result.crypto, /^node:crypto \(no --allow-ffi permission for libcrypto\.so\.3\)$/);
    assert.equal(result.suite, "chacha20-poly1305");
    assert.ok(result.rttMs >= 0);
  } finally {
    const { code, log } = await stopServer(server, serverDir, clientDir);
    assert.equal(code, 0, log);
  }
});

Deno.test("the single-file bundles built by `deno task bundle` run the same way", async () => {
  const outDir = await tempDir("ssp-bundle-");
  try {
    const built = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-env",
        "scripts/bundle.ts",
        outDir,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    // The run lines it prints grant what the compiled binaries do, and give the server its V8 flags.
    const printed = new TextDecoder().decode(built.stdout);
    const serverFlags = [...BINARY_PERMISSIONS, ...SERVER_V8_FLAGS].join(" ");
    assert.ok(printed.includes(`deno run ${serverFlags} ${outDir}/ssp-server.js)`), printed);
    assert.ok(
      printed.includes(`deno run ${BINARY_PERMISSIONS.join(" ")} ${outDir}/ssp-client.js)`),
      printed,
    );
    await pingThroughPrograms(`${outDir}/ssp-server.js`, `${outDir}/ssp-client.js`);
    await fileThroughPrograms(`${outDir}/ssp-server.js`, `${outDir}/ssp-client.js`);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("an unreachable server gives an error that says what to check", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const result = await run("client.ts", ["ping", "--server", `127.0.0.1:${port}`], {
    SSP_CLIENT_DATA: await tempDir(),
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /error: cannot connect to 127\.0\.0\.1:\d+/);
  assert.match(result.stderr, /hint: check --server/);
  const json = await run("client.ts", ["ping", "--server", `127.0.0.1:${port}`, "--json"], {
    SSP_CLIENT_DATA: await tempDir(),
  });
  assert.equal(JSON.parse(json.stdout).error.code, "server_unreachable");
});

Deno.test("bad flag values are refused with a usage error", async () => {
  const result = await run("server.ts", ["--port", "70000"]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /--port must be a whole number from 0 to 65535/);
  const address = await run("client.ts", ["ping", "--server", "::::"], {
    SSP_CLIENT_DATA: await tempDir(),
  });
  assert.equal(address.code, 2);
  assert.match(address.stderr, /invalid server address/);
});

const CLIENT_COMMANDS = [
  "ping",
  "register",
  "send",
  "history",
  "listen",
  "contacts",
  "verify",
  "passwd",
  "send-file",
  "files",
  "get-file",
  "share-file",
  "delete-file",
];

Deno.test("every command explains itself with --help", async () => {
  const commands: [string, string[]][] = [
    ["server.ts", []],
    ["server.ts", ["fingerprint"]],
    ["server.ts", ["dhparam"]],
    ["server.ts", ["migrate"]],
    ["client.ts", []],
    ...CLIENT_COMMANDS.map((command): [string, string[]] => ["client.ts", [command]]),
  ];
  for (const [script, args] of commands) {
    const result = await run(script, [...args, "--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Usage: ssp-(server|client)/);
  }
});
