import assert from "node:assert/strict";
import fc from "fast-check";
import { concatBytes, fromHex, toHex, utf8 } from "../bytes.ts";
import { chacha20Poly1305Open, chacha20Poly1305Seal, chacha20Poly1305SealParts } from "./aead.ts";
import { TAG_BYTES } from "./aead_backend.ts";
import { aeadGroups } from "./_test_wycheproof.ts";
import { isRecordError, nonceFor } from "../testing/mod.ts";

const KEY_A = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const HEADER = fromHex("00000010");

Deno.test("chacha20Poly1305Seal/Open agree with every Wycheproof ChaCha20-Poly1305 case", async () => {
  const groups = await aeadGroups("chacha20_poly1305_test.json");
  let checked = 0;
  for (const group of groups) {
    for (const t of group.tests) {
      const [key, iv, aad, msg] = [fromHex(t.key), fromHex(t.iv), fromHex(t.aad), fromHex(t.msg)];
      const sealed = fromHex(t.ct + t.tag);
      const label = `tcId ${t.tcId}`;
      if (group.ivSize !== 96) {
        // RFC 8439 fixes the nonce at 96 bits; the wrapper refuses anything else.
        assert.throws(() => chacha20Poly1305Seal(key, iv, aad, msg), RangeError, label);
        assert.throws(() => chacha20Poly1305Open(key, iv, aad, sealed), RangeError, label);
      } else if (t.result === "valid") {
        assert.equal(toHex(chacha20Poly1305Seal(key, iv, aad, msg)), t.ct + t.tag, label);
        assert.deepEqual(chacha20Poly1305Open(key, iv, aad, sealed), msg, label);
      } else {
        assert.throws(
          () => chacha20Poly1305Open(key, iv, aad, sealed),
          isRecordError("record_auth_failed"),
          label,
        );
      }
      checked++;
    }
  }
  assert.equal(checked, 325);
});

Deno.test("chacha20Poly1305Seal() reproduces the RFC 8439 §2.8.2 example", () => {
  const key = fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const nonce = fromHex("070000004041424344454647");
  const aad = fromHex("50515253c0c1c2c3c4c5c6c7");
  const plaintext = utf8(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const sealed = chacha20Poly1305Seal(key, nonce, aad, plaintext);
  assert.equal(
    toHex(sealed),
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6" +
      "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36" +
      "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
      "3ff4def08e4b7a9de576d26586cec64b6116" +
      "1ae10b594f09e26a7e902ecbd0600691",
  );
  assert.deepEqual(chacha20Poly1305Open(key, nonce, aad, sealed), plaintext);
});

Deno.test("chacha20Poly1305Open() rejects a record shorter than a tag", () => {
  for (const length of [0, 1, TAG_BYTES - 1]) {
    assert.throws(
      () => chacha20Poly1305Open(KEY_A, nonceFor(0), HEADER, new Uint8Array(length)),
      isRecordError("record_auth_failed"),
    );
  }
});

Deno.test("chacha20Poly1305Seal/Open reject wrong key and nonce lengths and non-bytes", () => {
  const nonce = nonceFor(0);
  const empty = new Uint8Array();
  for (const key of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(16)]) {
    assert.throws(() => chacha20Poly1305Seal(key, nonce, empty, empty), RangeError);
    assert.throws(() => chacha20Poly1305Open(key, nonce, empty, new Uint8Array(16)), RangeError);
  }
  for (const bad of [new Uint8Array(11), new Uint8Array(13), new Uint8Array(24)]) {
    assert.throws(() => chacha20Poly1305Seal(KEY_A, bad, empty, empty), RangeError);
  }
  const notBytes = "x" as unknown as Uint8Array;
  assert.throws(() => chacha20Poly1305Seal(notBytes, nonce, empty, empty), TypeError);
  assert.throws(() => chacha20Poly1305Seal(KEY_A, nonce, notBytes, empty), TypeError);
  assert.throws(() => chacha20Poly1305Seal(KEY_A, nonce, empty, notBytes), TypeError);
  assert.throws(() => chacha20Poly1305Open(KEY_A, nonce, empty, notBytes), TypeError);
});

Deno.test("opened plaintexts are standalone arrays, never views of a shared buffer pool", () => {
  const key = new Uint8Array(32).fill(9);
  const nonce = new Uint8Array(12);
  for (const size of [0, 1, 100, 4000, 70_000]) {
    const sealed = chacha20Poly1305Seal(key, nonce, new Uint8Array(), new Uint8Array(size).fill(5));
    const opened = chacha20Poly1305Open(key, nonce, new Uint8Array(), sealed);
    assert.equal(opened.byteOffset, 0, `size ${size}`);
    assert.equal(opened.buffer.byteLength, size, `size ${size}`);
  }
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

Deno.test("sealing a plaintext in pieces gives exactly the bytes of sealing it whole", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 3000 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      fc.uint8Array({ maxLength: 32 }),
      (plaintext, cuts, aad) => {
        const nonce = nonceFor(7);
        const pieces = chacha20Poly1305SealParts(KEY_A, nonce, aad, splitAt(plaintext, cuts));
        const whole = chacha20Poly1305Seal(KEY_A, nonce, aad, plaintext);
        assert.deepEqual(concatBytes(...pieces), whole);
        assert.equal(pieces.at(-1)!.length, TAG_BYTES);
      },
    ),
  );
});
