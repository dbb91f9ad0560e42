import assert from "node:assert/strict";
import { constantTimeEqual, fromHex, toHex, utf8 } from "../bytes.ts";
import { HKDF_SHA256_MAX_BYTES, hkdfSha256, hmacSha256 } from "./kdf.ts";

interface HkdfCase {
  tcId: number;
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
  result: "valid" | "invalid" | "acceptable";
}

interface MacCase {
  tcId: number;
  key: string;
  msg: string;
  tag: string;
  result: "valid" | "invalid" | "acceptable";
}

async function loadVectors<T>(file: string): Promise<{ tagSize?: number; tests: T[] }[]> {
  const url = new URL(`../../testdata/wycheproof/${file}`, import.meta.url);
  return JSON.parse(await Deno.readTextFile(url)).testGroups;
}

Deno.test("hkdfSha256() matches every Wycheproof HKDF-SHA-256 case", async () => {
  let checked = 0;
  for (const group of await loadVectors<HkdfCase>("hkdf_sha256_test.json")) {
    for (const t of group.tests) {
      const run = () => hkdfSha256(fromHex(t.ikm), fromHex(t.salt), fromHex(t.info), t.size);
      if (t.result === "valid") {
        assert.equal(toHex(run()), t.okm, `tcId ${t.tcId}`);
      } else {
        assert.throws(run, RangeError, `tcId ${t.tcId}`);
      }
      checked++;
    }
  }
  assert.equal(checked, 86);
});

Deno.test("hkdfSha256() produces the maximum length and refuses one byte more", () => {
  const ikm = utf8("ikm");
  assert.equal(
    hkdfSha256(ikm, new Uint8Array(), new Uint8Array(), HKDF_SHA256_MAX_BYTES).length,
    8160,
  );
  assert.throws(() => hkdfSha256(ikm, new Uint8Array(), new Uint8Array(), 8161), RangeError);
});

Deno.test("hkdfSha256() returns an empty array for length 0", () => {
  assert.equal(hkdfSha256(utf8("k"), new Uint8Array(), new Uint8Array(), 0).length, 0);
});

Deno.test("hkdfSha256() rejects a negative, fractional or non-number length", () => {
  const k = utf8("k");
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(() => hkdfSha256(k, k, k, bad), RangeError);
  }
});

Deno.test("hkdfSha256() rejects inputs that are not Uint8Array", () => {
  const k = utf8("k");
  assert.throws(() => hkdfSha256("k" as unknown as Uint8Array, k, k, 32), TypeError);
  assert.throws(() => hkdfSha256(k, [] as unknown as Uint8Array, k, 32), TypeError);
  assert.throws(() => hkdfSha256(k, k, null as unknown as Uint8Array, 32), TypeError);
});

Deno.test("hmacSha256() matches every Wycheproof HMAC-SHA-256 case", async () => {
  let checked = 0;
  for (const group of await loadVectors<MacCase>("hmac_sha256_test.json")) {
    const tagBytes = (group.tagSize ?? 256) / 8;
    for (const t of group.tests) {
      const full = hmacSha256(fromHex(t.key), fromHex(t.msg));
      assert.equal(full.length, 32);
      const expected = fromHex(t.tag);
      // A truncated tag is the leading tagSize bits of the full MAC (RFC 2104 §5).
      const matches = constantTimeEqual(full.subarray(0, tagBytes), expected);
      assert.equal(matches, t.result === "valid", `tcId ${t.tcId}`);
      // The full tag never matches a truncated one: callers cannot be tricked into short tags.
      if (tagBytes < 32) assert.equal(constantTimeEqual(full, expected), false, `tcId ${t.tcId}`);
      checked++;
    }
  }
  assert.equal(checked, 174);
});

Deno.test("hmacSha256() rejects inputs that are not Uint8Array", () => {
  assert.throws(() => hmacSha256("k" as unknown as Uint8Array, utf8("m")), TypeError);
  assert.throws(() => hmacSha256(utf8("k"), "m" as unknown as Uint8Array), TypeError);
});
