import assert from "node:assert/strict";
import { until, within } from "./until.ts";

Deno.test("until() resolves once the predicate holds", async () => {
  let calls = 0;
  await until(() => ++calls >= 3, { what: "three calls", intervalMs: 1 });
  assert.equal(calls, 3);
});

Deno.test("until() fails at the deadline with a message naming what it waited for", async () => {
  const start = performance.now();
  await assert.rejects(
    until(() => false, { what: "a condition that never holds", deadlineMs: 50 }),
    new Error("timed out after 50 ms waiting for a condition that never holds"),
  );
  assert.ok(performance.now() - start >= 50);
});

Deno.test("until() passes on an error the predicate throws", async () => {
  await assert.rejects(
    until(() => {
      throw new RangeError("broken");
    }, { what: "x" }),
    RangeError,
  );
});

Deno.test("within() gives the promise's value, or fails at the deadline", async () => {
  assert.equal(await within(Promise.resolve(7), { what: "seven" }), 7);
  await assert.rejects(
    within(new Promise(() => {}), { what: "a promise that never settles", deadlineMs: 20 }),
    new Error("timed out after 20 ms waiting for a promise that never settles"),
  );
  await assert.rejects(within(Promise.reject(new TypeError("no")), { what: "x" }), TypeError);
});
