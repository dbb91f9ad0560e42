/**
 * `deno task fuzz [--seconds N] [--seed S]`: fuzzes a real server (started
 * here, on 127.0.0.1, with a temporary data dir) for N seconds (default
 * 3600) in rounds of mutated handshake, pre-login and post-login frames (see
 * tests/fuzzer.ts), one JSON line per round with the totals and this
 * process's heap (after a full collection) and RSS. At the end the server
 * must still serve a real client and hold no connection of the fuzzer. On a
 * finding it prints the seed, the round and the last frame, and exits 1;
 * `--seed S` replays the run.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { toHex } from "../lib/bytes.ts";
import { Prng } from "../lib/testing/mod.ts";
import { startTestServer, tempDir } from "../tests/harness.ts";
import { newUser } from "../tests/users.ts";
import { setUpFuzzAccount } from "../tests/fuzz_account.ts";
import { assertStillServing, forgetEndedConnections } from "../tests/fuzz_health.ts";
import { fuzzServer } from "../tests/fuzzer.ts";

/** Frames per phase in one round. */
const ROUND = { handshake: 300, preLogin: 300, postLogin: 300 };

const USAGE = "usage: deno task fuzz [--seconds N] [--seed S]";

function parse(): { seconds: number; seed: number } {
  let values;
  try {
    ({ values } = parseArgs({
      options: { seconds: { type: "string" }, seed: { type: "string" }, help: { type: "boolean" } },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const seconds = Number(values.seconds ?? 3600);
  const seed = Number(values.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]);
  if (!(seconds > 0)) fail(`--seconds must be a positive number, got ${values.seconds}\n${USAGE}`);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    fail(`--seed must be an integer in [0, 2^32), got ${values.seed}\n${USAGE}`);
  }
  return { seconds, seed };
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(2);
}

const { seconds, seed } = parse();
console.error(`fuzzing for ${seconds} s with seed ${seed} (replay: deno task fuzz --seed ${seed})`);
const server = await startTestServer();
const bob = await newUser(server, "+12015550102");
const alice = await newUser(server, "+12015550101");
alice.session.close();
const account = await setUpFuzzAccount(
  server.address,
  await tempDir(),
  "+12015550199",
  "+12015550102",
);
const prng = new Prng(seed);
const started = performance.now();
const totals = { frames: 0, connections: 0, closedByServer: 0 };
let round = 0;
let last: { phase: string; bytes: Uint8Array } = { phase: "", bytes: new Uint8Array() };
try {
  while (performance.now() - started < seconds * 1000) {
    round++;
    const stats = await fuzzServer(
      { hostname: "127.0.0.1", port: server.port },
      account,
      prng,
      ROUND,
      (phase, bytes) => last = { phase, bytes },
    );
    totals.frames += stats.frames.handshake + stats.frames.preLogin + stats.frames.postLogin;
    totals.connections += stats.connections;
    totals.closedByServer += stats.closedByServer;
    forgetEndedConnections(server);
    // With --v8-flags=--expose-gc (as `deno task fuzz` runs it): the heap after a full collection,
    // so growth over rounds is a leak and not garbage not yet collected.
    (globalThis as { gc?: () => void }).gc?.();
    const memory = Deno.memoryUsage();
    console.log(JSON.stringify({
      round,
      seconds: Math.round((performance.now() - started) / 1000),
      ...totals,
      heapMiB: Math.round(memory.heapUsed / 2 ** 20),
      rssMiB: Math.round(memory.rss / 2 ** 20),
      errors: stats.errors,
    }));
  }
  await assertStillServing(server, alice, bob);
  console.error(`done: ${totals.frames} frames in ${round} rounds, no finding (seed ${seed})`);
} catch (error) {
  console.error(`FINDING in round ${round} (seed ${seed}, replay: deno task fuzz --seed ${seed})`);
  console.error(
    `last frame (${last.phase}, ${last.bytes.length} bytes): ${toHex(last.bytes.subarray(0, 512))}`,
  );
  console.error(error);
  Deno.exitCode = 1;
} finally {
  bob.session.close();
  await server.stop();
}
