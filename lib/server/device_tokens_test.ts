import assert from "node:assert/strict";
import { DeviceTokens } from "./device_tokens.ts";

const key = new Uint8Array(32).fill(7);

Deno.test("DeviceTokens accepts its own token for the number it was issued for, only", () => {
  const tokens = new DeviceTokens(key);
  const token = tokens.issue("+15551230001");
  assert.equal(token.length, 32);
  assert.ok(tokens.verify("+15551230001", token));
  assert.ok(!tokens.verify("+15551230002", token), "bound to the number");
  assert.ok(!new DeviceTokens(new Uint8Array(32).fill(8)).verify("+15551230001", token));
  for (const i of [0, 15, 16, 31]) {
    const tampered = token.slice();
    tampered[i]! ^= 1;
    assert.ok(!tokens.verify("+15551230001", tampered), `byte ${i} flipped`);
  }
  assert.ok(!tokens.verify("+15551230001", undefined));
  assert.ok(!tokens.verify("+15551230001", token.subarray(0, 31)));
  assert.notDeepEqual(tokens.issue("+15551230001"), token, "fresh per login");
});

Deno.test("DeviceTokens refuses a key shorter than 32 bytes", () => {
  assert.throws(() => new DeviceTokens(new Uint8Array(31)), RangeError);
});
