import assert from "node:assert/strict";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { FrameError } from "../errors.ts";
import {
  checkMaxFrameBytes,
  encodeFrame,
  encodeFrameHeader,
  FRAME_HEADER_BYTES,
  FrameReader,
  IDLE_READ_BYTES,
  READ_CHUNK_BYTES,
  RETAINED_BODY_BYTES,
} from "./frames.ts";
import { chunkedSource, stallingSource, until } from "../testing/mod.ts";

async function readAll(reader: FrameReader): Promise<Uint8Array[]> {
  const bodies: Uint8Array[] = [];
  for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
    bodies.push(frame.body);
  }
  return bodies;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("FrameReader reads back any sequence of frames, whatever the read sizes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }),
      async (bodies, splits) => {
        const stream = concat(bodies.map(encodeFrame));
        const got = await readAll(new FrameReader(chunkedSource(stream, splits), 4096));
        assert.deepEqual(got, bodies);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("FrameReader reads frames larger than its read buffer, one byte at a time too", async () => {
  const body = new Uint8Array(randomBytes(200_000));
  for (const splits of [[1], [65_536], [100_000, 7]]) {
    const reader = new FrameReader(chunkedSource(encodeFrame(body), splits), 300_000);
    assert.deepEqual((await reader.read())?.body, body);
    assert.equal(await reader.read(), null);
  }
});

Deno.test("FrameReader accepts a body of max-1 and max bytes and refuses max+1", async () => {
  const max = 1024;
  for (const size of [0, max - 1, max]) {
    const reader = new FrameReader(chunkedSource(encodeFrame(new Uint8Array(size)), [500]), max);
    assert.equal((await reader.read())?.body.length, size);
  }
  const reader = new FrameReader(chunkedSource(encodeFrame(new Uint8Array(max + 1))), max);
  await assert.rejects(reader.read(), (e: unknown) => {
    assert.ok(e instanceof FrameError);
    assert.equal(e.code, "frame_too_large");
    assert.match(e.message, /1025 bytes exceeds the limit of 1024/);
    return true;
  });
});

Deno.test("FrameReader refuses an oversize length before waiting for (or allocating) the body", async () => {
  // The source never delivers a body: the error must come from the header alone.
  const reader = new FrameReader(stallingSource(encodeFrameHeader(0xffff_ffff)), 1024);
  await assert.rejects(reader.read(), /4294967295 bytes exceeds the limit/);
});

Deno.test("FrameReader reports end of stream at every offset inside a frame", async () => {
  const frame = encodeFrame(new Uint8Array([1, 2, 3, 4, 5, 6]));
  assert.equal(await new FrameReader(chunkedSource(frame.subarray(0, 0))).read(), null);
  for (let cut = 1; cut < frame.length; cut++) {
    const reader = new FrameReader(chunkedSource(frame.subarray(0, cut)));
    await assert.rejects(reader.read(), (e: unknown) => {
      assert.ok(e instanceof FrameError, `cut at ${cut}`);
      assert.equal(e.code, "frame_truncated");
      assert.match(e.message, cut < FRAME_HEADER_BYTES ? /frame header/ : /frame body/);
      return true;
    });
  }
});

Deno.test("the frame header is the big-endian body length", () => {
  assert.deepEqual(encodeFrameHeader(0x01020304), new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(encodeFrame(new Uint8Array([9])), new Uint8Array([0, 0, 0, 1, 9]));
  assert.throws(() => encodeFrameHeader(-1), RangeError);
  assert.throws(() => encodeFrameHeader(2 ** 32), RangeError);
});

Deno.test("a configured frame limit outside 64 bytes..16 MiB is refused", () => {
  checkMaxFrameBytes(64);
  checkMaxFrameBytes(16 * 1024 * 1024);
  assert.throws(() => checkMaxFrameBytes(63), RangeError);
  assert.throws(() => checkMaxFrameBytes(16 * 1024 * 1024 + 1), RangeError);
  assert.throws(() => new FrameReader(chunkedSource(new Uint8Array()), 1.5), RangeError);
});

Deno.test("FrameReader releases a large body buffer while it waits for the next frame", async () => {
  const big = new Uint8Array(randomBytes(1024 * 1024));
  const inner = chunkedSource(concat([encodeFrame(big), encodeFrame(new Uint8Array(10))]), [
    65_536,
  ]);
  let end!: () => void;
  const ended = new Promise<null>((resolve) => end = () => resolve(null));
  // Serves two frames, then stays silent until the test ends the stream.
  const reader = new FrameReader(
    { read: async (p) => await inner.read(p) ?? await ended },
    2 << 20,
  );
  reader.reuseBodies = true;
  reader.releaseAfterMs = 10;
  assert.deepEqual((await reader.read())?.body, big);
  assert.ok(reader.heldBytes >= big.length, "bulk frames reuse one body buffer");
  assert.equal((await reader.read())?.body.length, 10);
  const next = reader.read(); // the peer goes quiet
  await until(() => reader.heldBytes === IDLE_READ_BYTES, {
    what: "the large body buffer to be released",
  });
  end();
  assert.equal(await next, null);
});

Deno.test("an idle FrameReader waits with only its small idle buffer", async () => {
  const frames = concat([encodeFrame(new Uint8Array(100)), encodeFrame(new Uint8Array(20_000))]);
  const inner = chunkedSource(frames, [3000]);
  let end!: () => void;
  const ended = new Promise<null>((resolve) => end = () => resolve(null));
  const pendingSizes: number[] = [];
  const reader = new FrameReader({
    read: async (p) => {
      const n = await inner.read(p);
      if (n !== null) return n;
      pendingSizes.push(p.length);
      return await ended;
    },
  });
  reader.reuseBodies = true;
  reader.releaseAfterMs = 10;
  assert.equal((await reader.read())?.body.length, 100);
  assert.equal((await reader.read())?.body.length, 20_000);
  const next = reader.read(); // the peer goes quiet
  await until(() => pendingSizes.length === 1, { what: "the reader to wait for a frame" });
  assert.deepEqual(pendingSizes, [IDLE_READ_BYTES], "the wait holds the small buffer only");
  await until(() => reader.heldBytes === IDLE_READ_BYTES, {
    what: "the body buffer of an idle reader to be released",
  });
  end();
  assert.equal(await next, null);
});

Deno.test("a burst of small frames is read in chunks, not a read per frame", async () => {
  const count = 1000;
  const bodies = Array.from({ length: count }, (_, i) => new Uint8Array(100).fill(i & 0xff));
  const inner = chunkedSource(concat(bodies.map(encodeFrame)), [1 << 20]);
  let reads = 0;
  const reader = new FrameReader({
    read: (p) => {
      reads++;
      return inner.read(p);
    },
  });
  reader.reuseBodies = true;
  for (const body of bodies) assert.deepEqual((await reader.read())?.body, body);
  assert.equal(await reader.read(), null);
  const chunks = Math.ceil(count * 104 / READ_CHUNK_BYTES);
  assert.ok(reads <= chunks + 3, `${reads} reads for ${chunks} chunks of ${count} frames`);
  assert.ok(RETAINED_BODY_BYTES >= 100);
});
