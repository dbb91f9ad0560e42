import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { decodeClientMessage, encodeAppMessage } from "../protocol/mod.ts";
import { decodeMessage, encodeMessage, encodeMessageWithBytes } from "./codec.ts";
import { concatBytes } from "../bytes.ts";
import { FrameError } from "../errors.ts";
import { ClientHello, ServerHello } from "../handshake/mod.ts";

function rejectsWith(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FrameError, `expected FrameError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

// Round trips of every message type: lib/protocol/round_trip_test.ts.

Deno.test("decodeMessage names the field that is wrong", () => {
  const hello = {
    t: "client_hello",
    versions: [1],
    groups: ["x25519"],
    random: new Uint8Array(31),
  };
  rejectsWith(
    () => decodeMessage(ClientHello, encode(hello), "handshake client_hello"),
    "bad_message",
    /handshake client_hello: field "random": expected 32 bytes/,
  );
  rejectsWith(
    () => decodeMessage(ClientHello, encode({ ...hello, random: "x".repeat(32) }), "m"),
    "bad_message",
    /field "random"/,
  );
  rejectsWith(
    () => decodeMessage(ServerHello, encode({ t: "server_hello", version: 1 }), "m"),
    "bad_message",
    /field "group"/,
  );
});

Deno.test("decodeMessage refuses an unknown message type", () => {
  rejectsWith(
    () => decodeClientMessage(encode({ t: "launch", id: 1 })),
    "unknown_message",
    /"launch"/,
  );
  rejectsWith(
    () => decodeClientMessage(encode({ id: 1 })),
    "unknown_message",
    /\(none\)|undefined/,
  );
  // The error goes back to the peer in an alert (at most 1024 characters): a long type is cut.
  rejectsWith(
    () => decodeClientMessage(encode({ t: "A".repeat(2000), id: 1 })),
    "unknown_message",
    /^client message: unexpected message type "A{63}…$/,
  );
});

Deno.test("decodeMessage refuses garbage, trailing bytes and non-maps", () => {
  rejectsWith(() => decodeClientMessage(new Uint8Array([0xc1])), "bad_encoding", /MessagePack/);
  rejectsWith(() => decodeClientMessage(new Uint8Array()), "bad_encoding", /MessagePack/);
  const ping = encodeAppMessage({ t: "ping", id: 1 });
  rejectsWith(
    () => decodeClientMessage(new Uint8Array([...ping, 0])),
    "bad_encoding",
    /Extra 1/,
  );
  rejectsWith(() => decodeClientMessage(encode([1, 2])), "bad_message", /expected object/);
  rejectsWith(() => decodeClientMessage(encode({ t: "ping", id: -1 })), "bad_message", /"id"/);
  rejectsWith(() => decodeClientMessage(encode({ t: "ping", id: 1.5 })), "bad_message", /"id"/);
});

Deno.test("decodeMessage survives deeply nested and random input with a FrameError", () => {
  const nested = new Uint8Array(100_000).fill(0x91); // [[[[…]]]]
  assert.throws(() => decodeClientMessage(nested), FrameError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      try {
        decodeClientMessage(bytes);
      } catch (e) {
        assert.ok(e instanceof FrameError, `unexpected ${e}`);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("encodeMessageWithBytes() pieces join to exactly encodeMessage() with the bytes field last", () => {
  for (const size of [0, 1, 255, 256, 65_535, 65_536, 300_000]) {
    const data = new Uint8Array(size).map((_, i) => i);
    const cut = Math.floor(size / 3);
    const message = { t: "file_data", fileId: "ab".repeat(16), index: 7 } as const;
    const pieces = encodeMessageWithBytes(message, "data", [
      data.subarray(0, cut),
      data.subarray(cut),
    ]);
    assert.deepEqual(concatBytes(...pieces), encodeMessage({ ...message, data }), `size ${size}`);
    assert.equal(pieces[2]!.buffer, data.buffer, "the bytes are passed on, not copied");
  }
  const wide = Object.fromEntries([["t", "x"], ...[...Array(14)].map((_, i) => [`f${i}`, i])]);
  assert.throws(() => encodeMessageWithBytes(wide as { t: string }, "data", []), RangeError);
});
