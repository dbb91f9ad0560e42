/**
 * A bounded fuzz run against a real server: a few thousand mutated frames
 * (handshake, before login, after login), then the server must still serve
 * real clients and hold no connection of the fuzzer. The seed is printed;
 * `SSP_FUZZ_SEED=N` replays a run. `deno task fuzz` runs the same for hours.
 */
import assert from "node:assert/strict";
import { Prng } from "../lib/testing/mutate.ts";
import { fuzzServer, setUpFuzzAccount } from "./fuzzer.ts";
import { startTestServer, tempDir, type TestServer } from "./harness.ts";
import { newUser, textsOf, userSession } from "./users.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const FUZZER = "+12015550199";

/** Connection ids the server logged as connected and not yet as gone. */
function openConnections(server: TestServer): number[] {
  const open = new Set<unknown>();
  for (const event of server.events) {
    if (event.event === "connected") open.add(event.conn);
    if (["handshake_failed", "disconnected", "connection_failed"].includes(String(event.event))) {
      open.delete(event.conn);
    }
  }
  return [...open] as number[];
}

async function until(predicate: () => boolean, what: string, deadlineMs = 15_000) {
  const deadline = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

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
    // Every connection of the fuzzer is gone; only Bob's stays.
    await until(() => openConnections(server).length === 1, "the fuzzer's connections to close");
    // A real client still gets through: Alice logs in again and Bob receives her message.
    const again = await userSession(server, ALICE);
    try {
      await again.session.messenger.send([BOB], { kind: "text", text: "still there?" });
      await until(() => textsOf(bob.received).includes("still there?"), "Bob to get the message");
    } finally {
      again.session.close();
    }
  } catch (error) {
    console.error(`fuzz seed ${seed}, last frame: ${last}`);
    throw error;
  } finally {
    bob.session.close();
    await server.stop();
  }
});
