import assert from "node:assert/strict";
import { lines } from "./lines.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));
}

Deno.test("lines() splits on \\n and \\r\\n across chunk boundaries and keeps a last partial line", async () => {
  const got = [];
  for await (const line of lines(streamOf("one\r\ntw", "o\n\nthr", "ee"))) got.push(line);
  assert.deepEqual(got, ["one", "two", "", "three"]);
});

Deno.test("lines() handles multi-byte characters split between chunks", async () => {
  const bytes = new TextEncoder().encode("héllo\n");
  const stream = ReadableStream.from([bytes.subarray(0, 2), bytes.subarray(2)]);
  const got = [];
  for await (const line of lines(stream)) got.push(line);
  assert.deepEqual(got, ["héllo"]);
});
