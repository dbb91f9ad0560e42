import assert from "node:assert/strict";
import { FFDHE2048, FFDHE3072, FFDHE4096, FFDHE_GROUPS } from "./ffdhe.ts";
import { bitLength, isProbablePrime, modPow } from "./primes.ts";

/** ⌊e · 2^bits⌋, from e = Σ 1/k! in fixed point with 64 guard bits. */
function eFixedPoint(bits: number): bigint {
  const guard = 64n;
  let term = 1n << (BigInt(bits) + guard);
  let sum = 0n;
  for (let k = 1n; term > 0n; k++) {
    sum += term;
    term /= k;
  }
  // Each of the few hundred truncated divisions loses < 1 unit of the guard bits.
  return sum >> guard;
}

/** RFC 7919 Appendix A: p = 2^b − 2^(b−64) + (⌊2^(b−130)·e⌋ + X)·2^64 − 1. */
function rfc7919Prime(b: number, x: bigint): bigint {
  const big = BigInt(b);
  return (1n << big) - (1n << (big - 64n)) + (eFixedPoint(b - 130) + x) * (1n << 64n) - 1n;
}

Deno.test("eFixedPoint() reproduces the known digits of e", () => {
  // e = 2.b7e151628aed2a6abf7158809cf4f3c7… in hex.
  assert.equal(eFixedPoint(128).toString(16), "2b7e151628aed2a6abf7158809cf4f3c7");
});

const cases = [
  { group: FFDHE2048, bits: 2048, x: 560316n },
  { group: FFDHE3072, bits: 3072, x: 2625351n },
  { group: FFDHE4096, bits: 4096, x: 5736041n },
];

for (const { group, bits, x } of cases) {
  Deno.test(`${group.name} equals the RFC 7919 construction from e`, () => {
    assert.equal(group.p, rfc7919Prime(bits, x));
    assert.equal(bitLength(group.p), bits);
    assert.equal(group.bits, bits);
    assert.equal(group.g, 2n);
    assert.equal(group.q, (group.p - 1n) / 2n);
    assert.equal(FFDHE_GROUPS[group.name], group);
  });

  Deno.test(`${group.name} starts and ends with 64 one bits`, () => {
    const ones = (1n << 64n) - 1n;
    assert.equal(group.p >> BigInt(bits - 64), ones);
    assert.equal(group.p & ones, ones);
  });

  Deno.test(`${group.name} has prime p and q, and g = 2 of order q`, () => {
    // A few rounds suffice here: the constants are fixed and also checked against the RFC.
    assert.ok(isProbablePrime(group.q, 2));
    assert.ok(isProbablePrime(group.p, 2));
    assert.equal(modPow(group.g, group.q, group.p), 1n);
  });
}
