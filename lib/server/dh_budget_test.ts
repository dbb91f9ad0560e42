import assert from "node:assert/strict";
import { namedGroup } from "../crypto/mod.ts";
import { FiniteFieldBudget, TokenBucket } from "./dh_budget.ts";

const X25519 = namedGroup("x25519");
const FFDHE4096 = namedGroup("ffdhe4096");

function budget(msPerSecond: number, msPerAddress: number) {
  let now = 0;
  const b = new FiniteFieldBudget({ msPerSecond, msPerAddress, costMs: () => 100, now: () => now });
  return { budget: b, advance: (ms: number) => now += ms };
}

Deno.test("TokenBucket refills at its rate up to one second's worth and may go into debt", () => {
  let now = 0;
  const bucket = new TokenBucket(100, () => now);
  assert.equal(bucket.balance, 100);
  bucket.take(250);
  assert.equal(bucket.balance, -150);
  now += 1000;
  assert.equal(bucket.balance, -50);
  now += 10_000;
  assert.equal(bucket.balance, 100, "never more than one second's worth");
});

Deno.test("one address gets its own rate of finite-field work, and no more", () => {
  const { budget: b, advance } = budget(1000, 100);
  assert.equal(b.admit("10.0.0.1", FFDHE4096), true);
  assert.equal(b.admit("10.0.0.1", FFDHE4096), false, "the address is in debt");
  assert.equal(b.admit("10.0.0.2", FFDHE4096), true, "another address is not");
  advance(999);
  assert.equal(b.admit("10.0.0.1", FFDHE4096), true, "after paying its debt back");
});

Deno.test("all addresses together get the total rate", () => {
  const { budget: b, advance } = budget(300, 1000);
  const admitted = Array.from({ length: 10 }, (_, i) => b.admit(`10.0.0.${i}`, FFDHE4096));
  assert.deepEqual(admitted.filter(Boolean).length, 3);
  advance(1000);
  assert.equal(b.admit("10.0.0.99", FFDHE4096), true);
});

Deno.test("x25519 is never rationed or charged", () => {
  const { budget: b } = budget(0, 0);
  for (let i = 0; i < 100; i++) assert.equal(b.admit("10.0.0.1", X25519), true);
  assert.equal(b.admit("10.0.0.1", FFDHE4096), false, "a zero budget admits no finite-field work");
});

Deno.test("one IPv6 /64 is one address", () => {
  const { budget: b } = budget(1000, 100);
  assert.equal(b.admit("2001:db8:1:2::1", FFDHE4096), true);
  assert.equal(b.admit("2001:db8:1:2:ffff::9", FFDHE4096), false);
  assert.equal(b.admit("2001:db8:1:3::1", FFDHE4096), true);
});
