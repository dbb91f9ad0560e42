import assert from "node:assert/strict";
import type { FileEntry, ReceivedMessage } from "../client/mod.ts";
import { SspError } from "../errors.ts";
import { fileJson, fileLine, marksFrom, messageJson, messageLine, rejectedLine } from "./format.ts";

const ME = "+12015550101";
const BOB = "+12015550102";
const ATTACK = "x\x1b[2K\r\u202eevil\u2069\nnext";

function message(overrides: Partial<ReceivedMessage>): ReceivedMessage {
  return {
    seq: 1,
    id: "m1",
    from: BOB,
    to: [ME],
    with: [BOB],
    timestamp: Date.UTC(2026, 11, 1, 12, 0),
    storedAt: Date.UTC(2026, 11, 1, 12, 0),
    content: { kind: "text", text: "hello" },
    verified: true,
    ...overrides,
  };
}

/** No character a terminal would act on, besides our own line breaks. */
function assertInert(line: string) {
  // deno-lint-ignore no-control-regex -- looking for control characters is the point
  assert.doesNotMatch(line, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
}

Deno.test("messageLine() escapes a sender's text and indents its later lines", () => {
  const line = messageLine(message({ content: { kind: "text", text: ATTACK } }), { me: ME });
  assertInert(line);
  assert.match(line, /^\d\d:\d\d \+12015550102: x\\x1b\[2K\\r\\u202eevil\\u2069\n {6}next$/);
  assert.equal(messageJson(message({ content: { kind: "text", text: ATTACK } })).text, ATTACK);
});

Deno.test("messageLine() shows names, marks and a prefix for another conversation", () => {
  const nameOf = (p: string) => p === BOB ? "Bob\x1b]0;title\x07" : p;
  const line = messageLine(message({}), { me: ME, nameOf, prefix: "«Bob» " });
  assertInert(line);
  assert.match(line, /^«Bob» \d\d:\d\d Bob\\x1b\]0;title\\x07: hello$/);
  const mine = messageLine(message({ from: ME, to: [BOB] }), { me: ME, mark: "read" });
  assert.match(mine, /you: hello {2}✓✓ read$/);
});

Deno.test("file and refusal lines escape the names and errors a peer chose", () => {
  const file: FileEntry = {
    fileId: "0123456789abcdef",
    name: "\u202egnp.exe",
    size: 10,
    from: BOB,
    to: [ME],
    verified: true,
    complete: true,
    createdAt: 0,
    content: {} as FileEntry["content"],
  };
  const line = fileLine(file, ME);
  assertInert(line);
  assert.match(line, /\\u202egnp\.exe {2}from \+12015550102$/);
  assert.equal(fileJson(file, ME).name, "\u202egnp.exe");
  const refused = rejectedLine({
    rejected: { seq: 3, from: BOB, error: new SspError("bad_envelope", `bad ${ATTACK}`) },
  });
  assertInert(refused);
  assert.match(refused, /^⚠ refused a message \(seq 3\) from \+12015550102: bad x\\x1b/);
});

Deno.test("marksFrom() keeps the furthest receipt for each of my messages", () => {
  const receipt = (receipt: "delivered" | "read", ids: string[], from = BOB) => ({
    message: message({
      id: `r-${receipt}-${ids}`,
      from,
      content: { kind: "receipt", receipt, ids },
    }),
  });
  const marks = marksFrom([
    receipt("read", ["a"]),
    receipt("delivered", ["a", "b"]),
    receipt("read", ["c"], ME), // my own receipts say nothing about my messages
  ], ME);
  assert.deepEqual([...marks], [["a", "read"], ["b", "delivered"]]);
});
