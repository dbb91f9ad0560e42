import assert from "node:assert/strict";
import fc from "fast-check";
import { concatBytes, fromHex, utf8 } from "../bytes.ts";
import { chacha20Poly1305Seal, hkdfSha256, TAG_BYTES } from "../crypto/mod.ts";
import { DEFAULT_RECORD_LIMITS, type RecordLimits, RecordOpener, RecordSealer } from "./record.ts";
import { isRecordError, nonceFor, pseudoRandomBytes } from "../testing/mod.ts";

const KEY_A = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const KEY_B = fromHex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
const HEADER = fromHex("00000010");

Deno.test("RecordSealer/RecordOpener round-trip records of 0 to 70,000 bytes with any header", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          size: fc.integer({ min: 0, max: 70_000 }),
          seed: fc.integer(),
          header: fc.uint8Array({ maxLength: 8 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      (records) => {
        const sealer = new RecordSealer(KEY_A);
        const opener = new RecordOpener(KEY_A);
        for (const { size, seed, header } of records) {
          const plaintext = pseudoRandomBytes(size, seed);
          const sealed = sealer.seal(header, plaintext);
          assert.equal(sealed.length, size + TAG_BYTES);
          assert.deepEqual(opener.open(header, sealed), plaintext);
        }
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("RecordSealer/RecordOpener round-trip records at block and size boundaries", () => {
  const sealer = new RecordSealer(KEY_A);
  const opener = new RecordOpener(KEY_A);
  for (const size of [0, 1, 63, 64, 65, 65_535, 65_536, 65_537, 70_000]) {
    const plaintext = pseudoRandomBytes(size, size + 7);
    assert.deepEqual(opener.open(HEADER, sealer.seal(HEADER, plaintext)), plaintext, `${size}`);
  }
});

Deno.test("RecordSealer.seal() uses nonce 0^32 || counter64 and the header as associated data", () => {
  const sealer = new RecordSealer(KEY_A);
  for (let counter = 0; counter < 3; counter++) {
    const plaintext = utf8(`record ${counter}`);
    const expected = chacha20Poly1305Seal(KEY_A, nonceFor(counter), HEADER, plaintext);
    assert.deepEqual(sealer.seal(HEADER, plaintext), expected);
  }
});

Deno.test("RecordOpener.open() rejects any single bit flip in the record or its header", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.nat(),
      (plaintext, header, position) => {
        const sealed = new RecordSealer(KEY_A).seal(header, plaintext);
        const totalBits = (header.length + sealed.length) * 8;
        const bit = position % totalBits;
        const [badHeader, badSealed] = [header.slice(), sealed.slice()];
        if (bit < header.length * 8) {
          badHeader[bit >> 3]! ^= 1 << (bit & 7);
        } else {
          const at = bit - header.length * 8;
          badSealed[at >> 3]! ^= 1 << (at & 7);
        }
        assert.throws(
          () => new RecordOpener(KEY_A).open(badHeader, badSealed),
          isRecordError("record_auth_failed"),
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("RecordOpener.open() refuses a replayed record", () => {
  const sealer = new RecordSealer(KEY_A);
  const opener = new RecordOpener(KEY_A);
  const record = sealer.seal(HEADER, utf8("pay 10"));
  assert.deepEqual(opener.open(HEADER, record), utf8("pay 10"));
  assert.throws(() => opener.open(HEADER, record), isRecordError("record_auth_failed"));
});

Deno.test("RecordOpener.open() refuses records out of order", () => {
  const sealer = new RecordSealer(KEY_A);
  const opener = new RecordOpener(KEY_A);
  const first = sealer.seal(HEADER, utf8("first"));
  const second = sealer.seal(HEADER, utf8("second"));
  assert.throws(() => opener.open(HEADER, second), isRecordError("record_auth_failed"));
  assert.throws(() => opener.open(HEADER, first), isRecordError("channel_failed"));
});

Deno.test("RecordOpener stays closed after a failed open, even for the next valid record", () => {
  const sealer = new RecordSealer(KEY_A);
  const opener = new RecordOpener(KEY_A);
  const record = sealer.seal(HEADER, utf8("hello"));
  const forged = record.slice();
  forged[0]! ^= 0x80;
  assert.throws(() => opener.open(HEADER, forged), isRecordError("record_auth_failed"));
  assert.throws(() => opener.open(HEADER, record), isRecordError("channel_failed"));
  assert.throws(() => opener.open(HEADER, record), isRecordError("channel_failed"));
});

Deno.test("the two directions' keys are independent", () => {
  const aliceToBob = new RecordSealer(KEY_A);
  const bobToAlice = new RecordSealer(KEY_B);
  const bobReads = new RecordOpener(KEY_A);
  const aliceReads = new RecordOpener(KEY_B);
  // Same counter, same plaintext: different keys give unrelated records.
  const fromAlice = aliceToBob.seal(HEADER, utf8("hi"));
  const fromBob = bobToAlice.seal(HEADER, utf8("hi"));
  assert.notDeepEqual(fromAlice, fromBob);
  assert.deepEqual(bobReads.open(HEADER, fromAlice), utf8("hi"));
  assert.deepEqual(aliceReads.open(HEADER, fromBob), utf8("hi"));
  // A record reflected back to its sender fails.
  const reflected = aliceToBob.seal(HEADER, utf8("reflect me"));
  assert.throws(() => aliceReads.open(HEADER, reflected), isRecordError("record_auth_failed"));
});

Deno.test("both sides rekey exactly after rekeyAfterRecords records and keep going", () => {
  const limits: RecordLimits = { rekeyAfterRecords: 3, rekeyAfterBytes: 2 ** 30, maxEpochs: 10 };
  const sealer = new RecordSealer(KEY_A, limits);
  const opener = new RecordOpener(KEY_A, limits);
  for (let i = 0; i < 10; i++) {
    const plaintext = utf8(`record ${i}`);
    const sealed = sealer.seal(HEADER, plaintext);
    assert.deepEqual(opener.open(HEADER, sealed), plaintext);
    const expectedEpoch = Math.floor(i / 3);
    assert.equal(sealer.epoch, expectedEpoch, `sealer epoch after record ${i}`);
    assert.equal(opener.epoch, expectedEpoch, `opener epoch after record ${i}`);
    assert.equal(sealer.records, (i % 3) + 1);
    assert.equal(opener.records, (i % 3) + 1);
  }
});

Deno.test("the rekeyed key is HKDF(key, empty salt, 'ssp/1 rekey') and the counter restarts", () => {
  const limits: RecordLimits = { rekeyAfterRecords: 2, rekeyAfterBytes: 2 ** 30, maxEpochs: 10 };
  const sealer = new RecordSealer(KEY_A, limits);
  sealer.seal(HEADER, utf8("0"));
  sealer.seal(HEADER, utf8("1"));
  const nextKey = hkdfSha256(KEY_A, new Uint8Array(), utf8("ssp/1 rekey"), 32);
  const expected = chacha20Poly1305Seal(nextKey, nonceFor(0), HEADER, utf8("2"));
  assert.deepEqual(sealer.seal(HEADER, utf8("2")), expected);
  assert.equal(sealer.epoch, 1);
});

Deno.test("both sides rekey once rekeyAfterBytes plaintext bytes were sealed", () => {
  const limits: RecordLimits = { rekeyAfterRecords: 1000, rekeyAfterBytes: 100, maxEpochs: 10 };
  const sealer = new RecordSealer(KEY_A, limits);
  const opener = new RecordOpener(KEY_A, limits);
  const epochs: number[] = [];
  for (const size of [60, 39, 1, 0, 100, 5]) {
    const plaintext = new Uint8Array(size);
    assert.deepEqual(opener.open(HEADER, sealer.seal(HEADER, plaintext)), plaintext);
    assert.equal(opener.epoch, sealer.epoch);
    epochs.push(sealer.epoch);
  }
  // 60+39 = 99 < 100 stays; +1 reaches 100, so the next record (0 bytes) starts epoch 1;
  // that epoch reaches 100 with the 100-byte record, so the last one starts epoch 2.
  assert.deepEqual(epochs, [0, 0, 0, 1, 1, 2]);
});

Deno.test("a channel past maxEpochs throws channel_exhausted on both sides, for good", () => {
  const limits: RecordLimits = { rekeyAfterRecords: 2, rekeyAfterBytes: 2 ** 30, maxEpochs: 1 };
  const sealer = new RecordSealer(KEY_A, limits);
  const opener = new RecordOpener(KEY_A, limits);
  const records: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) records.push(sealer.seal(HEADER, utf8(`${i}`)));
  assert.equal(sealer.epoch, 1);
  assert.throws(() => sealer.seal(HEADER, utf8("4")), isRecordError("channel_exhausted"));
  assert.throws(() => sealer.seal(HEADER, utf8("4")), isRecordError("channel_exhausted"));
  for (const record of records) opener.open(HEADER, record);
  // Whatever arrives next, the opener would need epoch 2, which does not exist.
  assert.throws(() => opener.open(HEADER, records[0]!), isRecordError("channel_exhausted"));
  assert.throws(() => opener.open(HEADER, records[0]!), isRecordError("channel_failed"));
});

Deno.test("maxEpochs 0 allows only the initial key", () => {
  const limits: RecordLimits = { rekeyAfterRecords: 1, rekeyAfterBytes: 2 ** 30, maxEpochs: 0 };
  const sealer = new RecordSealer(KEY_A, limits);
  sealer.seal(HEADER, utf8("only"));
  assert.throws(() => sealer.seal(HEADER, utf8("more")), isRecordError("channel_exhausted"));
});

Deno.test("RecordSealer copies its key, so the caller may wipe theirs", () => {
  const key = KEY_A.slice();
  const sealer = new RecordSealer(key);
  key.fill(0);
  assert.deepEqual(new RecordOpener(KEY_A).open(HEADER, sealer.seal(HEADER, utf8("x"))), utf8("x"));
});

Deno.test("RecordSealer and RecordOpener validate their arguments", () => {
  for (const Ctor of [RecordSealer, RecordOpener]) {
    assert.throws(() => new Ctor(new Uint8Array(31)), RangeError);
    assert.throws(() => new Ctor(new Uint8Array(33)), RangeError);
    assert.throws(() => new Ctor([...KEY_A] as unknown as Uint8Array), TypeError);
    for (
      const bad of [
        { ...DEFAULT_RECORD_LIMITS, rekeyAfterRecords: 0 },
        { ...DEFAULT_RECORD_LIMITS, rekeyAfterBytes: 1.5 },
        { ...DEFAULT_RECORD_LIMITS, maxEpochs: -1 },
        { ...DEFAULT_RECORD_LIMITS, rekeyAfterRecords: 2 ** 53 },
      ]
    ) {
      assert.throws(() => new Ctor(KEY_A, bad), RangeError);
    }
  }
  const notBytes = "x" as unknown as Uint8Array;
  assert.throws(() => new RecordSealer(KEY_A).seal(notBytes, utf8("x")), TypeError);
  assert.throws(() => new RecordSealer(KEY_A).seal(HEADER, notBytes), TypeError);
  assert.throws(() => new RecordOpener(KEY_A).open(HEADER, notBytes), TypeError);
});

Deno.test("DEFAULT_RECORD_LIMITS are 2^20 records, 2^30 bytes and 2^32 epochs", () => {
  assert.deepEqual({ ...DEFAULT_RECORD_LIMITS }, {
    rekeyAfterRecords: 2 ** 20,
    rekeyAfterBytes: 2 ** 30,
    maxEpochs: 2 ** 32,
  });
  assert.ok(Object.isFrozen(DEFAULT_RECORD_LIMITS));
});

/** `bytes` cut at `cuts` (positions, any order, duplicates allowed). */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [
    0,
    ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b),
    bytes.length,
  ];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

Deno.test("RecordSealer.sealParts() and seal() produce the same records, which open in order", () => {
  const [whole, inParts] = [new RecordSealer(KEY_A), new RecordSealer(KEY_A)];
  const opener = new RecordOpener(KEY_A);
  for (const [size, cuts] of [[0, []], [1, [0, 1]], [70_000, [4, 65_540]], [300, [10, 10, 299]]]) {
    const body = new Uint8Array(size as number).map((_, i) => i * 31);
    const frame = concatBytes(...inParts.sealParts(HEADER, splitAt(body, cuts as number[])));
    assert.deepEqual(frame, whole.seal(HEADER, body));
    assert.deepEqual(opener.open(HEADER, frame), body);
  }
  assert.equal(inParts.records, 4);
});
