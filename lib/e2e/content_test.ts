import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { EnvelopeError } from "../errors.ts";
import { type Content, decodeContent, encodeContent, MAX_TEXT_BYTES } from "./content.ts";

const ID = "0123456789abcdef0123456789abcdef";

Deno.test("text and receipt content round-trip through encodeContent()/decodeContent()", () => {
  const samples: Content[] = [
    { kind: "text", text: "" },
    { kind: "text", text: "héllo 👋" },
    { kind: "text", text: "x".repeat(MAX_TEXT_BYTES) },
    { kind: "receipt", receipt: "delivered", ids: [ID] },
    { kind: "receipt", receipt: "read", ids: [ID, "f".repeat(32)] },
  ];
  for (const content of samples) assert.deepEqual(decodeContent(encodeContent(content)), content);
});

Deno.test("encodeContent() refuses a text one byte over 64 KiB with too_large", () => {
  assert.throws(
    () => encodeContent({ kind: "text", text: "x".repeat(MAX_TEXT_BYTES + 1) }),
    (e) => e instanceof EnvelopeError && e.code === "too_large",
  );
  // The limit counts UTF-8 bytes, not characters: 16,385 four-byte emoji are 65,540 bytes.
  assert.throws(
    () => encodeContent({ kind: "text", text: "👋".repeat(16_385) }),
    (e) => e instanceof EnvelopeError && e.code === "too_large",
  );
});

Deno.test("encodeContent() refuses malformed receipts", () => {
  const bad = [
    { kind: "receipt", receipt: "seen", ids: [ID] },
    { kind: "receipt", receipt: "read", ids: [] },
    { kind: "receipt", receipt: "read", ids: [ID.toUpperCase()] },
  ];
  for (const content of bad) assert.throws(() => encodeContent(content as Content), TypeError);
});

Deno.test("decodeContent() reports an unknown kind as unsupported_content", () => {
  assert.throws(
    () => decodeContent(encode({ kind: "sticker", name: "a.txt" })),
    (e) => e instanceof EnvelopeError && e.code === "unsupported_content",
  );
});

Deno.test("decodeContent() turns any garbage into EnvelopeError", () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array(), fc.anything().map((v) => encode(v))), (bytes) => {
      try {
        decodeContent(bytes);
      } catch (e) {
        assert.ok(e instanceof EnvelopeError, String(e));
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("decodeContent() takes a bin of 32 bytes (a file key's size) and refuses 33", () => {
  // An unknown key is ignored once decoded; the decoder's limit applies before that.
  const text = (bytes: number) =>
    encode({ kind: "text", text: "hi", extra: new Uint8Array(bytes) });
  assert.deepEqual(decodeContent(text(32)), { kind: "text", text: "hi" });
  assert.throws(
    () => decodeContent(text(33)),
    (e) => e instanceof EnvelopeError && e.code === "bad_content",
  );
});

Deno.test("a file message round-trips and refuses a name with directories or a short key", () => {
  const file = {
    kind: "file" as const,
    fileId: "ab".repeat(16),
    name: "holiday photo 📷.jpg",
    size: 123456,
    type: "image/jpeg",
    chunkBytes: 262144,
    key: new Uint8Array(32).fill(7),
  };
  assert.deepEqual(decodeContent(encodeContent(file)), file);
  assert.throws(() => encodeContent({ ...file, name: "../etc/passwd" }), TypeError);
  assert.throws(() => encodeContent({ ...file, name: ".." }), TypeError);
  assert.throws(() => encodeContent({ ...file, chunkBytes: 1024 * 1024 }), TypeError);
  assert.throws(() => encodeContent({ ...file, key: new Uint8Array(16) }), TypeError);
});
