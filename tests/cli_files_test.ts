/** The file commands as scripts use them: send-file, files, get-file with --json. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { tempDir } from "./harness.ts";
import { run, spawnServer, stopServer } from "./programs.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";

Deno.test("send-file, files and get-file work from the command line with JSON events", async () => {
  const serverDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", serverDir);
  const env = { SSP_SERVER: `127.0.0.1:${server.port}`, SSP_PASSWORD: "correct horse battery" };
  const [aliceDir, bobDir, work] = [await tempDir(), await tempDir(), await tempDir()];
  const as = (phone: string, dir: string) => ["--phone", phone, "--data", dir, "--json"];
  try {
    await run("client.ts", ["register", ...as(ALICE, aliceDir)], env);
    await run("client.ts", ["register", ...as(BOB, bobDir)], env);
    const content = new Uint8Array(randomBytes(700_000));
    await Deno.writeFile(`${work}/holiday photos.zip`, content);
    const sent = await run(
      "client.ts",
      ["send-file", ...as(ALICE, aliceDir), "--to", BOB, `${work}/holiday photos.zip`],
      env,
    );
    assert.equal(sent.code, 0, sent.stderr);
    const events = sent.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events.at(-2).event, "done");
    const result = events.at(-1);
    assert.equal(result.type, "sent");
    assert.equal(result.size, content.length);

    const listed = await run("client.ts", ["files", ...as(BOB, bobDir)], env);
    const [file] = listed.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(file.fileId, result.fileId);
    assert.equal(file.name, "holiday photos.zip");
    assert.equal(file.direction, "received");
    assert.equal(file.key, undefined, "the file key is never printed");

    const got = await run(
      "client.ts",
      ["get-file", result.fileId.slice(0, 8), "--out", `${work}/in`, ...as(BOB, bobDir)],
      env,
    );
    assert.equal(got.code, 0, got.stderr);
    const saved = got.stdout.trim().split("\n").map((l) => JSON.parse(l)).at(-1);
    assert.equal(saved.path, `${work}/in/holiday photos.zip`);
    assert.deepEqual(await Deno.readFile(saved.path), content);

    const deleted = await run(
      "client.ts",
      ["delete-file", result.fileId, ...as(ALICE, aliceDir)],
      env,
    );
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(JSON.parse(deleted.stdout).type, "deleted");
    const after = await run("client.ts", ["files", ...as(BOB, bobDir)], env);
    assert.equal(after.stdout.trim(), "", "a deleted file is no longer listed");

    const missing = await run("client.ts", ["get-file", "abcdef", ...as(BOB, bobDir)], env);
    assert.equal(missing.code, 1);
    assert.equal(JSON.parse(missing.stdout.trim().split("\n").at(-1)!).error.code, "no_such_file");
  } finally {
    await stopServer(server, serverDir, aliceDir, bobDir, work);
  }
});
