import assert from "node:assert/strict";
import { scryptSync } from "node:crypto";
import { toHex, utf8 } from "../bytes.ts";
import { AuthError } from "../errors.ts";
import { hmacSha256 } from "../crypto/mod.ts";
import {
  checkVerifier,
  decodeKdfParams,
  DEFAULT_KDF_PARAMS,
  deriveMasterKey,
  encodeKdfParams,
  fakeSaltFor,
  type KdfParams,
  splitMasterKey,
  verifierOf,
} from "./password.ts";

const SALT = new Uint8Array(16).fill(7);

Deno.test("DEFAULT_KDF_PARAMS is OWASP's scrypt minimum and survives encode/decode", () => {
  assert.deepEqual({ ...DEFAULT_KDF_PARAMS }, { name: "scrypt", N: 2 ** 17, r: 8, p: 1 });
  const text = encodeKdfParams(DEFAULT_KDF_PARAMS);
  assert.deepEqual(JSON.parse(text), { name: "scrypt", N: 131072, r: 8, p: 1 });
  assert.deepEqual(decodeKdfParams(text), DEFAULT_KDF_PARAMS);
});

Deno.test("decodeKdfParams() accepts parameters inside the bounds", () => {
  for (
    const params of [
      { name: "scrypt", N: 2 ** 15, r: 8, p: 4 },
      { name: "scrypt", N: 2 ** 16, r: 16, p: 1 },
      { name: "scrypt", N: 2 ** 20, r: 8, p: 1 },
      { name: "scrypt", N: 2 ** 17, r: 16, p: 4 },
    ]
  ) {
    assert.deepEqual(decodeKdfParams(JSON.stringify(params)), params);
  }
});

Deno.test("decodeKdfParams() refuses what a malicious server could use to weaken or stall", () => {
  const bad: unknown[] = [
    { name: "scrypt", N: 2 ** 14, r: 8, p: 1 }, // N below 2^15
    { name: "scrypt", N: 2 ** 15, r: 8, p: 1 }, // N·r·p below the OWASP minimum
    { name: "scrypt", N: 2 ** 21, r: 8, p: 1 }, // N above 2^20
    { name: "scrypt", N: 100_000, r: 8, p: 1 }, // not a power of two
    { name: "scrypt", N: 2 ** 17, r: 7, p: 1 },
    { name: "scrypt", N: 2 ** 17, r: 17, p: 1 },
    { name: "scrypt", N: 2 ** 17, r: 8, p: 0 },
    { name: "scrypt", N: 2 ** 17, r: 8, p: 5 },
    { name: "scrypt", N: 2 ** 17, r: 8, p: 1.5 },
    { name: "scrypt", N: 2 ** 20, r: 16, p: 1 }, // 2 GiB
    { name: "scrypt", N: 2 ** 20, r: 8, p: 4 }, // ≈ 20 s
    { name: "scrypt", N: "131072", r: 8, p: 1 },
    { name: "argon2id", N: 2 ** 17, r: 8, p: 1 },
    { name: "scrypt", N: 2 ** 17, r: 8, p: 1, maxmem: 1 },
    { name: "scrypt", N: 2 ** 17, r: 8 },
    null,
    [],
    "scrypt",
  ];
  for (const value of bad) {
    assert.throws(
      () => decodeKdfParams(JSON.stringify(value)),
      (e) => e instanceof AuthError && e.code === "kdf_params_rejected",
      JSON.stringify(value),
    );
  }
  assert.throws(() => decodeKdfParams("{not json"), AuthError);
  assert.throws(() => decodeKdfParams(""), AuthError);
});

Deno.test("encodeKdfParams() refuses out-of-bounds parameters", () => {
  assert.throws(() => encodeKdfParams({ name: "scrypt", N: 2 ** 10, r: 8, p: 1 }), RangeError);
});

Deno.test("deriveMasterKey() is scrypt over the NFC-normalised password", async () => {
  const params: KdfParams = { name: "scrypt", N: 2 ** 15, r: 8, p: 4 };
  const composed = "caf\u00e9 au lait";
  const decomposed = "cafe\u0301 au lait";
  const a = await deriveMasterKey(composed, SALT, params);
  const b = await deriveMasterKey(decomposed, SALT, params);
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  const expected = scryptSync(utf8(composed), SALT, 32, {
    N: 2 ** 15,
    r: 8,
    p: 4,
    maxmem: 2 ** 26,
  });
  assert.equal(toHex(a), toHex(new Uint8Array(expected)));
});

Deno.test("deriveMasterKey() depends on the salt", async () => {
  const params: KdfParams = { name: "scrypt", N: 2 ** 15, r: 8, p: 4 };
  const a = await deriveMasterKey("correct horse", SALT, params);
  const b = await deriveMasterKey("correct horse", new Uint8Array(16).fill(8), params);
  assert.notDeepEqual(a, b);
});

Deno.test("deriveMasterKey() runs the default parameters", async () => {
  const key = await deriveMasterKey("correct horse battery", SALT, DEFAULT_KDF_PARAMS);
  assert.equal(key.length, 32);
});

Deno.test("deriveMasterKey() refuses passwords shorter than 8 characters", async () => {
  // Seven code points, though "🔑" takes two UTF-16 units: length counts characters.
  for (const password of ["", "1234567", "abcdef\u{1F511}"]) {
    await assert.rejects(
      deriveMasterKey(password, SALT, DEFAULT_KDF_PARAMS),
      (e) => e instanceof AuthError && e.code === "password_too_short",
    );
  }
});

Deno.test("deriveMasterKey() refuses unchecked parameters and short salts", async () => {
  const weak = { name: "scrypt", N: 2 ** 10, r: 8, p: 1 } as const;
  await assert.rejects(deriveMasterKey("long enough", SALT, weak), RangeError);
  await assert.rejects(
    deriveMasterKey("long enough", new Uint8Array(8), DEFAULT_KDF_PARAMS),
    RangeError,
  );
});

Deno.test("splitMasterKey() derives distinct auth and wrap keys with HKDF", () => {
  const master = new Uint8Array(32).fill(1);
  const { authKey, wrapKey } = splitMasterKey(master);
  assert.equal(authKey.length, 32);
  assert.equal(wrapKey.length, 32);
  assert.notDeepEqual(authKey, wrapKey);
  assert.deepEqual(splitMasterKey(master), { authKey, wrapKey });
  assert.throws(() => splitMasterKey(new Uint8Array(31)), RangeError);
});

Deno.test("verifierOf() is HMAC-SHA-256 keyed by the salt, and checkVerifier() matches it", () => {
  const authKey = new Uint8Array(32).fill(3);
  const salt = new Uint8Array(16).fill(4);
  const verifier = verifierOf(authKey, salt);
  assert.deepEqual(verifier, hmacSha256(salt, authKey));
  assert.equal(checkVerifier(authKey, salt, verifier), true);
  assert.equal(checkVerifier(new Uint8Array(32), salt, verifier), false);
  assert.equal(checkVerifier(new Uint8Array(5), salt, verifier), false);
  assert.notDeepEqual(verifierOf(authKey, new Uint8Array(16)), verifier);
});

Deno.test("fakeSaltFor() is deterministic, per number and per server", () => {
  const secret = new Uint8Array(32).fill(9);
  const salt = fakeSaltFor(secret, "+15551234567");
  assert.equal(salt.length, 16);
  assert.deepEqual(fakeSaltFor(secret, "+15551234567"), salt);
  assert.deepEqual(
    salt,
    hmacSha256(secret, utf8("ssp/1 fake salt\0+15551234567")).slice(0, 16),
  );
  assert.notDeepEqual(fakeSaltFor(secret, "+15551234568"), salt);
  assert.notDeepEqual(fakeSaltFor(new Uint8Array(32), "+15551234567"), salt);
  assert.throws(() => fakeSaltFor(new Uint8Array(16), "+15551234567"), RangeError);
});
