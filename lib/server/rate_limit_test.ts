import assert from "node:assert/strict";
import { RateLimiter } from "./rate_limit.ts";

Deno.test("RateLimiter allows a burst of perPeriod, then one per interval", () => {
  let now = 0;
  const limiter = new RateLimiter({ perPeriod: 3, periodMs: 3000, maxEntries: 10 }, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.take("a")), [0, 0, 0, 1000]);
  assert.equal(limiter.take("b"), 0, "keys are apart");
  now += 400;
  assert.equal(limiter.take("a"), 600);
  now += 600;
  assert.equal(limiter.take("a"), 0);
  assert.equal(limiter.take("a"), 1000);
});

Deno.test("RateLimiter forgets only refilled keys: a full table refuses new keys", () => {
  let now = 0;
  const limiter = new RateLimiter({ perPeriod: 2, periodMs: 2000, maxEntries: 2 }, () => now);
  for (const key of ["a", "b"]) for (let i = 0; i < 2; i++) assert.equal(limiter.take(key), 0);
  assert.equal(limiter.take("c"), 1000, "no room without forgetting a spent allowance");
  assert.equal(limiter.take("a"), 1000, "a is still spent");
  now += 2000; // a and b have refilled: forgetting them loses nothing
  assert.equal(limiter.take("c"), 0);
});
