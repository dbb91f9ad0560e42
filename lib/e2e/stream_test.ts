import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { concatBytes, fromHex } from "../bytes.ts";
import { EnvelopeError } from "../errors.ts";
import {
  CHUNK_OVERHEAD,
  chunkCount,
  chunkPlainRange,
  cipherSize,
  DEFAULT_CHUNK_BYTES,
  FILE_KEY_BYTES,
  MAX_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
  openChunk,
  openChunkInPlace,
  sealChunk,
  sealChunkInPlace,
} from "./stream.ts";
import { pseudoRandomBytes } from "../testing/mod.ts";

const CHUNK = MIN_CHUNK_BYTES;
const KEY = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const OTHER_KEY = fromHex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");

/** Seals a whole file the way a sender would: chunk by chunk, by index. */
function sealFile(key: Uint8Array, file: Uint8Array, chunkBytes = CHUNK): Uint8Array[] {
  const count = chunkCount(file.length, chunkBytes);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const { offset, length } = chunkPlainRange(i, file.length, chunkBytes);
    chunks.push(sealChunk(key, i, i === count - 1, file.subarray(offset, offset + length)));
  }
  return chunks;
}

/** Opens the chunks a receiver got, treating the last one received as the end of the file. */
function openFile(key: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  return concatBytes(
    ...chunks.map((sealed, i) => openChunk(key, i, i === chunks.length - 1, sealed)),
  );
}

function isChunkError(code: string, index?: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof EnvelopeError, `expected EnvelopeError, got ${error}`);
    assert.equal(error.code, code);
    if (index !== undefined) assert.match(error.message, new RegExp(`^file chunk ${index} `));
    return true;
  };
}

Deno.test("constants match the age payload layout", () => {
  assert.equal(FILE_KEY_BYTES, 32);
  assert.equal(CHUNK_OVERHEAD, 16);
  assert.equal(DEFAULT_CHUNK_BYTES, 256 * 1024);
  assert.equal(MIN_CHUNK_BYTES, 16 * 1024);
  assert.equal(MAX_CHUNK_BYTES, 1024 * 1024);
});

Deno.test("chunkCount() gives an empty file one chunk and an exact multiple no trailing empty chunk", () => {
  assert.equal(chunkCount(0, CHUNK), 1);
  assert.equal(chunkCount(1, CHUNK), 1);
  assert.equal(chunkCount(CHUNK - 1, CHUNK), 1);
  assert.equal(chunkCount(CHUNK, CHUNK), 1);
  assert.equal(chunkCount(CHUNK + 1, CHUNK), 2);
  assert.equal(chunkCount(3 * CHUNK, CHUNK), 3);
  assert.equal(chunkCount(3 * CHUNK + 5, CHUNK), 4);
  assert.equal(chunkCount(Number.MAX_SAFE_INTEGER, MAX_CHUNK_BYTES), 2 ** 33);
});

Deno.test("cipherSize() adds one tag per chunk", () => {
  assert.equal(cipherSize(0, CHUNK), 16);
  assert.equal(cipherSize(CHUNK, CHUNK), CHUNK + 16);
  assert.equal(cipherSize(CHUNK + 1, CHUNK), CHUNK + 1 + 32);
  assert.equal(cipherSize(10 * 2 ** 30, DEFAULT_CHUNK_BYTES), 10 * 2 ** 30 + 40960 * 16);
  assert.throws(() => cipherSize(Number.MAX_SAFE_INTEGER, CHUNK), RangeError);
});

Deno.test("chunkPlainRange() tiles the file exactly and refuses an index past the end", () => {
  fc.assert(
    fc.property(fc.nat(50 * CHUNK), fc.integer({ min: CHUNK, max: 4 * CHUNK }), (size, chunk) => {
      const count = chunkCount(size, chunk);
      let next = 0;
      for (let i = 0; i < count; i++) {
        const { offset, length } = chunkPlainRange(i, size, chunk);
        assert.equal(offset, next);
        assert.ok(i === count - 1 ? length > 0 || size === 0 : length === chunk);
        next += length;
      }
      assert.equal(next, size);
      assert.throws(() => chunkPlainRange(count, size, chunk), RangeError);
    }),
  );
  assert.deepEqual(chunkPlainRange(0, 0, CHUNK), { offset: 0, length: 0 });
});

Deno.test("size helpers refuse chunk sizes outside 16 KiB..1 MiB and bad sizes or indexes", () => {
  for (const chunk of [MIN_CHUNK_BYTES - 1, MAX_CHUNK_BYTES + 1, 0, 20000.5, NaN]) {
    assert.throws(() => chunkCount(1, chunk), RangeError);
  }
  for (const size of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => chunkCount(size, CHUNK), RangeError);
  }
  for (const index of [-1, 0.5, NaN, 2 ** 53]) {
    assert.throws(() => chunkPlainRange(index, 10 * CHUNK, CHUNK), RangeError);
  }
});

Deno.test("sealChunk()/openChunk() round-trip files at every chunk boundary", () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]) {
    const file = pseudoRandomBytes(size, size + 7);
    const chunks = sealFile(KEY, file);
    assert.equal(chunks.length, chunkCount(size, CHUNK));
    assert.equal(chunks.reduce((n, c) => n + c.length, 0), cipherSize(size, CHUNK));
    assert.deepEqual(openFile(KEY, chunks), file);
  }
});

Deno.test("sealChunk() output is ChaCha20-Poly1305 with nonce = 11-byte BE index || last flag", () => {
  const plaintext = pseudoRandomBytes(CHUNK, 42);
  // Index 0x0102030405 exercises the counter across both 32-bit halves of the layout.
  const cases = [
    { index: 0, isLast: true, nonce: "000000000000000000000001" },
    { index: 0x0102030405, isLast: false, nonce: "000000000000010203040500" },
    { index: Number.MAX_SAFE_INTEGER, isLast: true, nonce: "000000001fffffffffffff01" },
  ];
  for (const { index, isLast, nonce } of cases) {
    const cipher = createCipheriv("chacha20-poly1305", KEY, fromHex(nonce), { authTagLength: 16 });
    const expected = concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
    assert.deepEqual(sealChunk(KEY, index, isLast, plaintext), expected);
    assert.deepEqual(openChunk(KEY, index, isLast, expected), plaintext);
  }
});

Deno.test("openChunk() refuses a chunk with any byte flipped, naming the chunk", () => {
  const file = pseudoRandomBytes(3 * CHUNK + 5, 1);
  const chunks = sealFile(KEY, file);
  fc.assert(
    fc.property(
      fc.nat(chunks.length - 1),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (index, at, flip) => {
        const sealed = chunks[index]!.slice();
        sealed[at % sealed.length]! ^= flip;
        assert.throws(
          () => openChunk(KEY, index, index === chunks.length - 1, sealed),
          isChunkError("chunk_auth_failed", index),
        );
      },
    ),
  );
});

Deno.test("openChunk() error message names the chunk and the likely cause", () => {
  const sealed = sealChunk(KEY, 7, false, new Uint8Array(CHUNK));
  sealed[0]! ^= 1;
  assert.throws(() => openChunk(KEY, 7, false, sealed), {
    name: "EnvelopeError",
    message: "file chunk 7 failed authentication: the file was altered, truncated or reordered",
  });
});

Deno.test("a file with its last chunk dropped is refused when the new last chunk is opened", () => {
  for (const size of [CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5]) {
    const chunks = sealFile(KEY, pseudoRandomBytes(size, size));
    const truncated = chunks.slice(0, -1);
    assert.throws(
      () => openFile(KEY, truncated),
      isChunkError("chunk_auth_failed", truncated.length - 1),
    );
  }
  // Truncated to nothing: there is no chunk at all, and an empty last chunk cannot be forged.
  const forgedEmpty = sealChunk(OTHER_KEY, 0, true, new Uint8Array(0));
  assert.throws(() => openChunk(KEY, 0, true, forgedEmpty), isChunkError("chunk_auth_failed", 0));
});

Deno.test("openChunk() refuses swapped or duplicated chunks", () => {
  const chunks = sealFile(KEY, pseudoRandomBytes(4 * CHUNK, 9));
  const [a, b, c, d] = chunks as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  assert.throws(() => openFile(KEY, [b, a, c, d]), isChunkError("chunk_auth_failed", 0));
  assert.throws(() => openFile(KEY, [a, c, b, d]), isChunkError("chunk_auth_failed", 1));
  assert.throws(() => openFile(KEY, [a, b, c, c, d]), isChunkError("chunk_auth_failed", 3));
  assert.throws(() => openChunk(KEY, 3, true, c), isChunkError("chunk_auth_failed", 3));
});

Deno.test("openChunk() refuses a middle chunk presented as last, and the last as a middle one", () => {
  const chunks = sealFile(KEY, pseudoRandomBytes(2 * CHUNK + 1, 3));
  assert.throws(() => openChunk(KEY, 1, true, chunks[1]!), isChunkError("chunk_auth_failed", 1));
  assert.throws(() => openChunk(KEY, 2, false, chunks[2]!), isChunkError("chunk_auth_failed", 2));
});

Deno.test("openChunk() refuses a chunk sealed under a different file key", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (other) => {
      fc.pre(other.some((byte, i) => byte !== KEY[i]));
      const sealed = sealChunk(other, 0, true, pseudoRandomBytes(100, 5));
      assert.throws(() => openChunk(KEY, 0, true, sealed), isChunkError("chunk_auth_failed", 0));
    }),
    { numRuns: 50 },
  );
});

Deno.test("openChunk() refuses anything shorter than a tag", () => {
  for (const length of [0, 1, CHUNK_OVERHEAD - 1]) {
    assert.throws(
      () => openChunk(KEY, 0, true, new Uint8Array(length)),
      isChunkError("chunk_auth_failed", 0),
    );
  }
});

Deno.test("sealChunk() refuses chunks no honest file contains", () => {
  assert.throws(() => sealChunk(KEY, 0, false, new Uint8Array(CHUNK - 1)), RangeError);
  assert.throws(() => sealChunk(KEY, 1, true, new Uint8Array(0)), RangeError);
  assert.throws(() => sealChunk(KEY, 0, true, new Uint8Array(MAX_CHUNK_BYTES + 1)), RangeError);
  assert.equal(
    sealChunk(KEY, 0, true, new Uint8Array(MAX_CHUNK_BYTES)).length,
    MAX_CHUNK_BYTES + 16,
  );
});

Deno.test("openChunk() refuses an authentic empty last chunk after chunk 0 as malformed", () => {
  // Built with node:crypto directly, as only a non-conforming sender could produce it.
  const cipher = createCipheriv("chacha20-poly1305", KEY, fromHex("000000000000000000000101"), {
    authTagLength: 16,
  });
  cipher.final();
  const sealed = new Uint8Array(cipher.getAuthTag());
  assert.throws(() => openChunk(KEY, 1, true, sealed), isChunkError("chunk_malformed"));
});

Deno.test("sealChunk()/openChunk() check their arguments", () => {
  const chunk = new Uint8Array(10);
  for (const key of [new Uint8Array(31), new Uint8Array(33)]) {
    assert.throws(() => sealChunk(key, 0, true, chunk), RangeError);
    assert.throws(() => openChunk(key, 0, true, new Uint8Array(26)), RangeError);
  }
  for (const index of [-1, 1.5, NaN, 2 ** 53, Infinity]) {
    assert.throws(() => sealChunk(KEY, index, true, chunk), RangeError);
    assert.throws(() => openChunk(KEY, index, true, new Uint8Array(26)), RangeError);
  }
  assert.throws(() => sealChunk("key" as unknown as Uint8Array, 0, true, chunk), TypeError);
  assert.throws(() => sealChunk(KEY, 0, true, [1, 2] as unknown as Uint8Array), TypeError);
  assert.throws(() => openChunk(KEY, 0, true, [1, 2] as unknown as Uint8Array), TypeError);
  assert.throws(
    () => openChunk(KEY, 0, true, new Uint8Array(MAX_CHUNK_BYTES + CHUNK_OVERHEAD + 1)),
    RangeError,
  );
});

Deno.test("sealChunkInPlace()/openChunkInPlace() give exactly the bytes of sealChunk()/openChunk()", () => {
  for (const [size, index, isLast] of [[CHUNK, 3, false], [1, 4, true], [0, 0, true]] as const) {
    const plaintext = pseudoRandomBytes(size, size + 1);
    const expected = sealChunk(KEY, index, isLast, plaintext);
    const buffer = new Uint8Array(size + CHUNK_OVERHEAD);
    buffer.set(plaintext);
    sealChunkInPlace(KEY, index, isLast, buffer.subarray(0, size), buffer.subarray(size));
    assert.deepEqual(buffer, expected);
    const opened = openChunkInPlace(KEY, index, isLast, buffer);
    assert.deepEqual(opened, plaintext);
    assert.equal(opened.buffer, buffer.buffer, "opened where it lay");
  }
});

Deno.test("openChunkInPlace() refuses a tampered chunk and wipes what it decrypted", () => {
  const plaintext = pseudoRandomBytes(CHUNK, 9);
  const sealed = sealChunk(KEY, 2, false, plaintext);
  sealed[100]! ^= 1;
  assert.throws(
    () => openChunkInPlace(KEY, 2, false, sealed),
    (e: unknown) => e instanceof EnvelopeError && e.code === "chunk_auth_failed",
  );
  assert.ok(sealed.subarray(0, CHUNK).every((b) => b === 0), "no unauthenticated plaintext left");
  // The same checks as openChunk(): too short, wrong key length, the empty last chunk rule.
  assert.throws(() => openChunkInPlace(KEY, 0, true, new Uint8Array(15)), EnvelopeError);
  assert.throws(() => openChunkInPlace(KEY.subarray(1), 0, true, new Uint8Array(16)), RangeError);
  const emptyLast = sealChunk(KEY, 0, true, new Uint8Array(0));
  assert.deepEqual(openChunkInPlace(KEY, 0, true, emptyLast), new Uint8Array(0));
});

Deno.test("sealChunkInPlace() refuses the chunks sealChunk() refuses, and a bad tag buffer", () => {
  const tag = new Uint8Array(CHUNK_OVERHEAD);
  assert.throws(() => sealChunkInPlace(KEY, 0, false, new Uint8Array(10), tag), RangeError);
  assert.throws(() => sealChunkInPlace(KEY, 1, true, new Uint8Array(0), tag), RangeError);
  assert.throws(
    () => sealChunkInPlace(KEY, 0, true, new Uint8Array(10), tag.subarray(1)),
    RangeError,
  );
  const buffer = new Uint8Array(64);
  assert.throws(
    () => sealChunkInPlace(KEY, 0, true, buffer.subarray(0, 32), buffer.subarray(24, 40)),
    RangeError,
  );
});
