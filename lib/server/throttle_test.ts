import assert from "node:assert/strict";
import { Throttle, type ThrottlePolicy } from "./throttle.ts";

const policy: ThrottlePolicy = {
  freeFailures: 2,
  baseDelayMs: 1000,
  maxDelayMs: 8000,
  maxEntries: 3,
  clearOnSuccess: true,
};

/** One attempt that is let through and fails. */
function fail(throttle: Throttle, key: string): void {
  assert.equal(throttle.reserve(key), 0, `an attempt for ${key} was refused`);
  throttle.settle(key, true);
}

/** The wait `key` would get now (0: it may try; the probe reserves nothing). */
function waitOf(throttle: Throttle, key: string): number {
  const wait = throttle.reserve(key);
  if (wait === 0) throttle.release(key);
  return wait;
}

Deno.test("Throttle allows the free failures, then doubles the delay up to the maximum", () => {
  let now = 0;
  const throttle = new Throttle(policy, () => now);
  const delays = [];
  for (let i = 0; i < 7; i++) {
    fail(throttle, "a");
    delays.push(waitOf(throttle, "a"));
    now += delays.at(-1)!;
  }
  assert.deepEqual(delays, [0, 0, 1000, 2000, 4000, 8000, 8000]);
  fail(throttle, "a");
  now += 7999;
  assert.equal(waitOf(throttle, "a"), 1);
  now += 1;
  assert.equal(waitOf(throttle, "a"), 0);
});

Deno.test("Throttle counts attempts in flight: a parallel burst gets the free failures plus one", () => {
  const throttle = new Throttle(policy, () => 0);
  const granted = Array.from({ length: 50 }, () => throttle.reserve("a")).filter((w) => w === 0);
  assert.equal(granted.length, policy.freeFailures + 1);
  for (let i = 0; i < granted.length; i++) throttle.settle("a", true);
  assert.equal(waitOf(throttle, "a"), 1000, "the burst's failures back the key off");
});

Deno.test("Throttle forgets a key after a success if its policy says so, and keeps keys apart", () => {
  const throttle = new Throttle(policy, () => 0);
  for (let i = 0; i < 3; i++) fail(throttle, "a");
  assert.equal(waitOf(throttle, "b"), 0);
  assert.ok(waitOf(throttle, "a") > 0);
  const keeping = new Throttle({ ...policy, clearOnSuccess: false }, () => 0);
  for (let i = 0; i < 2; i++) fail(keeping, "a");
  assert.equal(keeping.reserve("a"), 0);
  keeping.settle("a", false);
  fail(keeping, "a");
  assert.equal(waitOf(keeping, "a"), 1000, "the success did not reset the count");
});

Deno.test("Throttle gives a released reservation back and starts afresh after a quiet spell", () => {
  let now = 0;
  const throttle = new Throttle(policy, () => now);
  for (let i = 0; i < 3; i++) assert.equal(throttle.reserve("a"), 0);
  assert.ok(throttle.reserve("a") > 0);
  throttle.release("a");
  assert.equal(throttle.reserve("a"), 0);
  for (let i = 0; i < 3; i++) throttle.settle("a", true);
  now += 1000 + policy.maxDelayMs; // block over, then a quiet spell as long as the longest delay
  fail(throttle, "a");
  assert.equal(waitOf(throttle, "a"), 0, "old failures forgiven");
});

Deno.test("Throttle never evicts a blocked key: a full table refuses new keys instead", () => {
  let now = 0;
  const throttle = new Throttle(policy, () => now);
  for (let i = 0; i < 3; i++) fail(throttle, "victim"); // blocked for 1 s
  for (const key of ["b", "c"]) fail(throttle, key); // unblocked, evictable
  for (let k = 0; k < 20; k++) fail(throttle, `other${k}`); // each evicts an unblocked one
  assert.equal(waitOf(throttle, "victim"), 1000, "the flood did not reset the victim");
  for (const key of ["x", "y"]) for (let i = 0; i < 3; i++) fail(throttle, key);
  assert.equal(throttle.size, 3);
  assert.equal(waitOf(throttle, "new"), 1000, "full of blocked keys: refused, nothing forgotten");
  assert.equal(waitOf(throttle, "victim"), 1000);
  now += 1000; // the blocks run out: their keys may go now
  fail(throttle, "new");
  assert.equal(throttle.size, 3);
});
