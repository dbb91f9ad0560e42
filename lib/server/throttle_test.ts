import assert from "node:assert/strict";
import { Throttle } from "./throttle.ts";

const policy = { freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 8000, maxEntries: 3 };

Deno.test("Throttle allows the free failures, then doubles the delay up to the maximum", () => {
  let now = 0;
  const throttle = new Throttle(policy, () => now);
  const delays = [];
  for (let i = 0; i < 7; i++) {
    throttle.failure("a");
    delays.push(throttle.retryAfter("a"));
  }
  assert.deepEqual(delays, [0, 0, 1000, 2000, 4000, 8000, 8000]);
  now = 7999;
  assert.equal(throttle.retryAfter("a"), 1);
  now = 8000;
  assert.equal(throttle.retryAfter("a"), 0);
});

Deno.test("Throttle forgets a key after a success and keeps keys apart", () => {
  const throttle = new Throttle(policy, () => 0);
  for (let i = 0; i < 3; i++) throttle.failure("a");
  assert.equal(throttle.retryAfter("b"), 0);
  assert.ok(throttle.retryAfter("a") > 0);
  throttle.success("a");
  assert.equal(throttle.retryAfter("a"), 0);
});

Deno.test("Throttle remembers at most maxEntries keys, dropping the least recent", () => {
  const throttle = new Throttle(policy, () => 0);
  for (const key of ["a", "b", "c", "d"]) for (let i = 0; i < 3; i++) throttle.failure(key);
  assert.equal(throttle.retryAfter("a"), 0);
  assert.ok(throttle.retryAfter("d") > 0);
});
