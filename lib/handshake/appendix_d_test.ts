/**
 * Known-answer test of the handshake and the first records: the real state
 * machines, given the seeded randomness of docs/protocol.md Appendix D, must
 * produce exactly the bytes the document shows (and workedExample() checks
 * each of them against an independent computation from the spec's formulas),
 * so the spec and the code cannot drift apart.
 */
import assert from "node:assert/strict";
import { seededRandom, workedExample } from "../testing/mod.ts";

const doc = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
const appendix = doc.slice(
  doc.indexOf("## Appendix D: worked example"),
  doc.indexOf("## Appendix E"),
);
/** Each ```text block of Appendix D, by its first line. */
const shown = new Map(
  [...appendix.matchAll(/```text\n(.*?)```/gs)].map((m) => [m[1]!.split("\n")[0]!, m[1]!]),
);

function assertShown(text: string, what: string): void {
  const firstLine = text.split("\n")[0]!;
  const block = shown.get(firstLine);
  assert.ok(block !== undefined, `Appendix D has no block for ${what} starting "${firstLine}"`);
  assert.equal(block, text, `Appendix D shows other bytes for ${what}`);
}

const example = await workedExample();

Deno.test("Appendix D shows the inputs the seeded generator gives", () => {
  assertShown(example.inputs, "D.1 inputs");
});

Deno.test("Appendix D shows the five handshake frames the state machines produce", () => {
  for (const frame of example.frames) {
    assert.ok(appendix.includes(frame.title), `Appendix D lacks "${frame.title}"`);
    assertShown(frame.text, frame.title);
  }
});

Deno.test("Appendix D shows the derived keys, signature and finished values", () => {
  assertShown(example.derived, "D.3 derived values");
});

Deno.test("Appendix D shows the first records, and the record after a rekey", () => {
  assertShown(example.records, "D.4 records");
  const { ciphertext, tag } = example.rekeyed;
  assert.match(
    appendix.replace(/\s+/g, " "),
    new RegExp(`giving ciphertext \`${ciphertext}\` and tag \`${tag}\``),
  );
});

Deno.test("Appendix D shows server_hello in the finite-field groups", () => {
  assertShown(example.finiteField, "D.5 finite-field server_hello");
});

Deno.test("seededRandom() is SHA-256(seed || counter) blocks, served in order across calls", () => {
  const random = seededRandom(new TextEncoder().encode("abc"));
  const first = random(new Uint8Array(20));
  const rest = random(new Uint8Array(44));
  const again = seededRandom(new TextEncoder().encode("abc"))(new Uint8Array(64));
  assert.deepEqual([...first, ...rest], [...again]);
  assert.notDeepEqual(again.subarray(0, 32), again.subarray(32));
});
