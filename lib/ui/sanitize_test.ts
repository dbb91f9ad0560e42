import assert from "node:assert/strict";
import fc from "fast-check";
import { isSafeText, safeLines, safeText } from "./sanitize.ts";

/** Bidi formatting characters (Unicode's Bidi_Control property) and the line/paragraph separators. */
const BIDI = new Set([
  0x061c,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
]);

/** The first character of `text` that must never reach a terminal from a peer, if any. */
function forbidden(text: string): string | undefined {
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || BIDI.has(code)) return ch;
    if (code >= 0xd800 && code <= 0xdfff) return ch; // a lone surrogate half
  }
  return undefined;
}

Deno.test("safeText() never lets a control, ESC or bidi character through", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (text) => {
      const shown = safeText(text);
      assert.equal(forbidden(shown), undefined);
      assert.ok(!shown.includes("\x1b"));
      assert.ok(isSafeText(shown));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("safeText() leaves printable text, in any script, unchanged", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }).filter((t) => forbidden(t) === undefined), (text) => {
      assert.equal(safeText(text), text);
      assert.ok(isSafeText(text));
    }),
    { numRuns: 2000 },
  );
  const printable = "héllo, мир, 你好, مرحبا 👋🏽 \\ `quotes` ½";
  assert.equal(safeText(printable), printable);
});

Deno.test("safeText() shows the forged-line attack escaped, visibly", () => {
  const attack = "hi\r\x1b[2K\x1b[1A\x1b[2K08:13 +1…02: (from Bob) my new number";
  assert.equal(
    safeText(attack),
    "hi\\r\\x1b[2K\\x1b[1A\\x1b[2K08:13 +1…02: (from Bob) my new number",
  );
  assert.equal(safeText("\u202eexe.txt"), "\\u202eexe.txt");
  assert.equal(
    safeText("a\u2066b\u2069\u200e\u200f\u061c"),
    "a\\u2066b\\u2069\\u200e\\u200f\\u061c",
  );
  assert.equal(safeText("\x9b2J\x7f\x00\t"), "\\x9b2J\\x7f\\x00\\t");
  assert.equal(safeText("\ud800x"), "\\ud800x");
});

Deno.test("safeLines() indents every line after the first so none can pose as a new message", () => {
  assert.equal(safeLines("one\n08:13 Bob: two\r", "  "), "one\n  08:13 Bob: two\\r");
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (text) => {
      const lines = safeLines(text, "    ").split("\n");
      for (const line of lines.slice(1)) assert.ok(line.startsWith("    "));
      for (const line of lines) assert.equal(forbidden(line), undefined);
    }),
  );
});
