import assert from "node:assert/strict";
import { backoffMs, RECONNECT_FIRST_MS, RECONNECT_MAX_MS, sleep } from "./reconnect.ts";

Deno.test("backoffMs() doubles from the first wait up to the longest, within ±20%", () => {
  assert.equal(backoffMs(0, 0.5), RECONNECT_FIRST_MS);
  assert.equal(backoffMs(1, 0.5), 2 * RECONNECT_FIRST_MS);
  assert.equal(backoffMs(3, 0.5), 8 * RECONNECT_FIRST_MS);
  assert.equal(backoffMs(10, 0.5), RECONNECT_MAX_MS);
  assert.equal(backoffMs(1_000_000, 0.5), RECONNECT_MAX_MS);
  assert.equal(backoffMs(0, 0), RECONNECT_FIRST_MS * 0.8);
  assert.ok(backoffMs(20, 0.999_999) <= RECONNECT_MAX_MS * 1.2);
});

Deno.test("sleep() ends at once, false, when its signal aborts", async () => {
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort();
  assert.equal(await waiting, false);
  assert.equal(await sleep(1, new AbortController().signal), true);
});
