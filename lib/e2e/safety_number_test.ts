import assert from "node:assert/strict";
import { safetyNumber, type SafetyNumberParty } from "./safety_number.ts";

const range = (from: number) => Uint8Array.from({ length: 32 }, (_, i) => from + i);

const alice: SafetyNumberParty = {
  phone: "+15550000001",
  signingKey: range(0),
  encryptionKey: range(32),
};
const bob: SafetyNumberParty = {
  phone: "+15550000002",
  signingKey: new Uint8Array(32).fill(0xff),
  encryptionKey: new Uint8Array(32).fill(0xee),
};

Deno.test("safetyNumber() matches a known answer", () => {
  // Computed once with an independent Python script (hashlib.sha512) following the same
  // definition; it guards against any change to the construction.
  assert.equal(
    safetyNumber(alice, bob),
    "68858 29413 12102 33026 10615 79388 71911 58362 21073 11032 20157 18319",
  );
});

Deno.test("safetyNumber() is 12 groups of 5 digits", () => {
  assert.match(safetyNumber(alice, bob), /^\d{5}( \d{5}){11}$/);
});

Deno.test("safetyNumber() is the same for both parties", () => {
  assert.equal(safetyNumber(alice, bob), safetyNumber(bob, alice));
});

Deno.test("safetyNumber() changes when any key or number changes", () => {
  const base = safetyNumber(alice, bob);
  const flip = (key: Uint8Array, i: number) => {
    const copy = key.slice();
    copy[i]! ^= 1;
    return copy;
  };
  const variants: [SafetyNumberParty, SafetyNumberParty][] = [
    [{ ...alice, signingKey: flip(alice.signingKey, 0) }, bob],
    [{ ...alice, signingKey: flip(alice.signingKey, 31) }, bob],
    [{ ...alice, encryptionKey: flip(alice.encryptionKey, 0) }, bob],
    [alice, { ...bob, signingKey: flip(bob.signingKey, 17) }],
    [alice, { ...bob, encryptionKey: flip(bob.encryptionKey, 31) }],
    [{ ...alice, phone: "+15550000009" }, bob],
    // Swapping the roles of the two keys changes it too.
    [{ ...alice, signingKey: alice.encryptionKey, encryptionKey: alice.signingKey }, bob],
  ];
  for (const [a, b] of variants) assert.notEqual(safetyNumber(a, b), base);
});

Deno.test("safetyNumber() refuses keys that are not 32 bytes", () => {
  assert.throws(() => safetyNumber({ ...alice, signingKey: new Uint8Array(31) }, bob), RangeError);
  assert.throws(
    () => safetyNumber(alice, { ...bob, encryptionKey: new Uint8Array(33) }),
    RangeError,
  );
});
