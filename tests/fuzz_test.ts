/**
 * A bounded fuzz run against a real server: a few thousand mutated frames
 * (handshake, before login, after login), then the server must still serve
 * real clients and hold no connection of the fuzzer. The seed is printed;
 * `SSP_FUZZ_SEED=N` replays a run. `deno task fuzz` runs the same for hours.
 */
import assert from "node:assert/strict";
import { Prng } from "../lib/testing/mod.ts";
import { setUpFuzzAccount } from "./fuzz_account.ts";
import { assertStillServing } from "./fuzz_health.ts";
import { fuzzServer } from "./fuzzer.ts";
import { startTestServer, tempDir } from "./harness.ts";
import { newUser } from "./users.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const FUZZER = "+12015550199";

Deno.test("the server survives thousands of mutated frames and keeps serving real clients", async () => {
  const seed = Number(
    Deno.env.get("SSP_FUZZ_SEED") ?? crypto.getRandomValues(new Uint32Array(1))[0],
  );
  console.log(
    `fuzz seed ${seed} (replay: SSP_FUZZ_SEED=${seed} deno task test tests/fuzz_test.ts)`,
  );
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  alice.session.close();
  const account = await setUpFuzzAccount(server.address, await tempDir(), FUZZER, BOB);
  let last = "";
  try {
    const stats = await fuzzServer(
      { hostname: "127.0.0.1", port: server.port },
      account,
      new Prng(seed),
      { handshake: 1000, preLogin: 1000, postLogin: 1000 },
      (phase, bytes) => last = `${phase} ${bytes.length} bytes`,
    );
    console.log(JSON.stringify(stats));
    assert.ok(stats.closedByServer > 0 && Object.keys(stats.errors).length > 5, "frames got deep");
    // Every connection of the fuzzer is gone (Bob's stays), and a real client still gets through.
    await assertStillServing(server, alice, bob);
  } catch (error) {
    console.error(`fuzz seed ${seed}, last frame: ${last}`);
    throw error;
  } finally {
    bob.session.close();
    await server.stop();
  }
});
