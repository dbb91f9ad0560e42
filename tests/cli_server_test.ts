/**
 * The server's subcommands honour their flags: `fingerprint`, `dhparam` and
 * `migrate` read the data dir named by `--data` (before or after the
 * subcommand), not the environment's or the default.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadOrCreateIdentity } from "../lib/server/mod.ts";
import { fingerprint } from "../lib/crypto/mod.ts";
import { EMBEDDED_DB_FILE, openEmbeddedStore } from "../lib/store/mod.ts";
import { tempDir } from "./harness.ts";
import { run } from "./programs.ts";

Deno.test("ssp-server fingerprint reads the identity in --data, before or after the subcommand", async () => {
  const [dir, other] = [await tempDir("ssp-server-"), await tempDir("ssp-other-")];
  try {
    const expected = fingerprint((await loadOrCreateIdentity(dir)).publicKey);
    await loadOrCreateIdentity(other); // SSP_DATA names another identity: --data must win
    for (
      const args of [
        ["fingerprint", "--data", dir, "--json"],
        ["--data", dir, "fingerprint", "--json"],
      ]
    ) {
      const result = await run("server.ts", args, { SSP_DATA: other });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { fingerprint: expected }, args.join(" "));
    }
    const fromEnv = await run("server.ts", ["fingerprint"], { SSP_DATA: dir });
    assert.equal(fromEnv.stdout.trim(), expected);

    const missing = await run("server.ts", ["fingerprint", "--data", join(dir, "none"), "--json"]);
    assert.equal(missing.code, 1);
    assert.equal(JSON.parse(missing.stdout).error.code, "no_identity");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("ssp-server dhparam writes into --data, and checks it before generating a prime", async () => {
  const dir = await tempDir("ssp-server-");
  try {
    // Two unusable data dirs (below a regular file): the error names the one
    // --data gives, at once, before minutes of prime generation.
    await Deno.writeTextFile(join(dir, "file"), "");
    const flag = join(dir, "file", "from-flag");
    const env = join(dir, "file", "from-env");
    const result = await run("server.ts", ["dhparam", "--data", flag, "--json"], {
      SSP_DATA: env,
    });
    assert.equal(result.code, 1, result.stderr);
    const { error } = JSON.parse(result.stdout);
    assert.equal(error.code, "data_dir_unusable");
    assert.ok(error.message.includes(flag), error.message);
    assert.match(error.hint, /--data DIR/);

    const bits = await run("server.ts", ["dhparam", "--bits", "1024", "--data", dir]);
    assert.equal(bits.code, 2);
    assert.match(bits.stderr, /--bits must be a whole number from 2048 to 4096/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ssp-server migrate copies --from into --to and refuses a --from with no store", async () => {
  const [from, to] = [await tempDir("ssp-from-"), await tempDir("ssp-to-")];
  try {
    await (await openEmbeddedStore(from)).close();
    const copied = await run("server.ts", ["migrate", "--from", from, "--to", to, "--json"]);
    assert.equal(copied.code, 0, copied.stderr + copied.stdout);
    const report = JSON.parse(copied.stdout);
    assert.equal(report.accounts, 0);
    assert.equal(report.envelopes, 0);
    await Deno.stat(join(to, EMBEDDED_DB_FILE));

    // A mistyped source is an error, not an empty store copied.
    const typo = join(from, "typo");
    const refused = await run("server.ts", ["migrate", "--from", typo, "--to", to, "--json"]);
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).error.code, "no_store");
    await assert.rejects(Deno.stat(typo), Deno.errors.NotFound);

    const usage = await run("server.ts", ["migrate", "--to", to]);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /required option '--from <dir\|url>' not specified/);
  } finally {
    await Deno.remove(from, { recursive: true });
    await Deno.remove(to, { recursive: true });
  }
});
