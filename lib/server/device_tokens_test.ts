import assert from "node:assert/strict";
import { DeviceTokens } from "./device_tokens.ts";

const key = new Uint8Array(32).fill(7);
const salt = new Uint8Array(16).fill(1);

Deno.test("DeviceTokens accepts its own token for the number it was issued for, only", () => {
  const tokens = new DeviceTokens(key);
  const token = tokens.issue("+15551230001", salt);
  assert.equal(token.length, 32);
  const epoch = tokens.epochIn("+15551230001", token);
  assert.ok(epoch !== null && tokens.isCurrent(epoch, salt));
  assert.equal(tokens.epochIn("+15551230002", token), null, "bound to the number");
  assert.equal(new DeviceTokens(new Uint8Array(32).fill(8)).epochIn("+15551230001", token), null);
  for (const i of [0, 7, 8, 15, 16, 31]) {
    const tampered = token.slice();
    tampered[i]! ^= 1;
    assert.equal(tokens.epochIn("+15551230001", tampered), null, `byte ${i} flipped`);
  }
  assert.equal(tokens.epochIn("+15551230001", undefined), null);
  assert.equal(tokens.epochIn("+15551230001", token.subarray(0, 31)), null);
  assert.notDeepEqual(tokens.issue("+15551230001", salt), token, "fresh per login");
});

Deno.test("DeviceTokens: a new verifier salt (a password change) makes earlier tokens stale", () => {
  const tokens = new DeviceTokens(key);
  const before = tokens.issue("+15551230001", salt);
  const changed = new Uint8Array(16).fill(2);
  const after = tokens.issue("+15551230001", changed);
  const old = tokens.epochIn("+15551230001", before)!;
  const fresh = tokens.epochIn("+15551230001", after)!;
  assert.ok(old !== null && fresh !== null, "both still carry a valid tag");
  assert.ok(!tokens.isCurrent(old, changed), "the old epoch is revoked");
  assert.ok(tokens.isCurrent(fresh, changed));
  assert.ok(tokens.isCurrent(old, salt));
  assert.equal(
    tokens.epochIn("+15551230001", swapEpoch(before, after)),
    null,
    "epoch not forgeable",
  );
});

/** `token` with the epoch of `other` (the tag left as is). */
function swapEpoch(token: Uint8Array, other: Uint8Array): Uint8Array {
  const swapped = token.slice();
  swapped.set(other.subarray(8, 16), 8);
  return swapped;
}

Deno.test("DeviceTokens refuses a key shorter than 32 bytes", () => {
  assert.throws(() => new DeviceTokens(new Uint8Array(31)), RangeError);
});
