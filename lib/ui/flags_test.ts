import assert from "node:assert/strict";
import { integerFlag } from "./flags.ts";

Deno.test("integerFlag() accepts whole numbers at and between the bounds", () => {
  const port = integerFlag("--port", 0, 65535);
  assert.equal(port("0"), 0);
  assert.equal(port("8080"), 8080);
  assert.equal(port("65535"), 65535);
});

Deno.test("integerFlag() refuses fractions, words, blanks and values out of range, naming the flag", () => {
  const count = integerFlag("--count", 1, 10);
  for (const text of ["0", "11", "1.5", "ten", "", " ", "-1", "NaN", "Infinity"]) {
    assert.throws(
      () => count(text),
      new TypeError(`--count must be a whole number from 1 to 10, got "${text}"`),
    );
  }
});
