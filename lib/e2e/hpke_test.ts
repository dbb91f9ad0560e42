import assert from "node:assert/strict";
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { fromHex, toHex, utf8 } from "../bytes.ts";
import { EnvelopeError } from "../errors.ts";
import { _testing, generateEncryptionKeyPair, hpkeOpen, hpkeSeal } from "./hpke.ts";

interface Vector {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmE: string;
  pkRm: string;
  skRm: string;
  enc: string;
  encryptions: { sequence_number: number; pt: string; aad: string; ct: string }[];
}

async function loadVector(): Promise<Vector> {
  const url = new URL("./testdata/rfc9180_x25519_chacha.json", import.meta.url);
  return JSON.parse(await Deno.readTextFile(url));
}

Deno.test("the test vector is RFC 9180 A.2.1: base mode, X25519, HKDF-SHA256, ChaCha20Poly1305", async () => {
  const v = await loadVector();
  assert.deepEqual([v.mode, v.kem_id, v.kdf_id, v.aead_id], [0, 32, 1, 3]);
  assert.deepEqual(v.encryptions.map((e) => e.sequence_number), [0, 1, 2]);
});

Deno.test("hpkeOpen() decrypts RFC 9180 A.2.1's first ciphertext with the vector's key", async () => {
  const v = await loadVector();
  const first = v.encryptions[0]!;
  const pt = await hpkeOpen(
    fromHex(v.skRm),
    fromHex(v.enc),
    fromHex(v.info),
    fromHex(first.aad),
    fromHex(first.ct),
  );
  assert.equal(toHex(pt), first.pt);
  assert.equal(new TextDecoder().decode(pt), "Beauty is truth, truth beauty");
});

Deno.test("the library's recipient context opens every A.2.1 encryption in sequence", async () => {
  // Single-shot open only covers sequence number 0; the later ones need a context.
  const v = await loadVector();
  const suite = new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Chacha20Poly1305(),
  });
  const ctx = await suite.createRecipientContext({
    recipientKey: await suite.kem.deserializePrivateKey(fromHex(v.skRm).buffer as ArrayBuffer),
    enc: fromHex(v.enc),
    info: fromHex(v.info),
  });
  for (const e of v.encryptions) {
    const pt = await ctx.open(fromHex(e.ct), fromHex(e.aad));
    assert.equal(toHex(new Uint8Array(pt)), e.pt, `sequence number ${e.sequence_number}`);
  }
});

Deno.test("sealing with the vector's ephemeral ikmE reproduces enc and ct exactly", async () => {
  const v = await loadVector();
  const first = v.encryptions[0]!;
  const sealed = await _testing.sealWithEphemeralIkm(
    fromHex(v.pkRm),
    fromHex(v.info),
    fromHex(first.aad),
    fromHex(first.pt),
    fromHex(v.ikmE),
  );
  assert.equal(toHex(sealed.enc), v.enc);
  assert.equal(toHex(sealed.ciphertext), first.ct);
});

Deno.test("hpkeSeal() output opens with the matching private key only", async () => {
  const alice = await generateEncryptionKeyPair();
  const bob = await generateEncryptionKeyPair();
  assert.equal(alice.publicKey.length, 32);
  assert.equal(alice.privateKey.length, 32);
  const info = utf8("ssp/1 test");
  const aad = utf8("header");
  const { enc, ciphertext } = await hpkeSeal(alice.publicKey, info, aad, utf8("hello"));
  assert.equal(enc.length, 32);
  assert.equal(ciphertext.length, 5 + 16);
  assert.deepEqual(await hpkeOpen(alice.privateKey, enc, info, aad, ciphertext), utf8("hello"));
  await assert.rejects(hpkeOpen(bob.privateKey, enc, info, aad, ciphertext), isDecryptFailed);
});

Deno.test("hpkeSeal() uses a fresh ephemeral key each time", async () => {
  const alice = await generateEncryptionKeyPair();
  const a = await hpkeSeal(alice.publicKey, utf8("i"), utf8("a"), utf8("same"));
  const b = await hpkeSeal(alice.publicKey, utf8("i"), utf8("a"), utf8("same"));
  assert.notDeepEqual(a.enc, b.enc);
  assert.notDeepEqual(a.ciphertext, b.ciphertext);
});

Deno.test("hpkeOpen() rejects a changed info, aad, enc or ciphertext with decrypt_failed", async () => {
  const alice = await generateEncryptionKeyPair();
  const info = utf8("info");
  const aad = utf8("aad");
  const { enc, ciphertext } = await hpkeSeal(alice.publicKey, info, aad, utf8("secret"));
  const flip = (b: Uint8Array, i: number) => {
    const c = b.slice();
    c[i]! ^= 1;
    return c;
  };
  const sk = alice.privateKey;
  await assert.rejects(hpkeOpen(sk, enc, utf8("infO"), aad, ciphertext), isDecryptFailed);
  await assert.rejects(hpkeOpen(sk, enc, info, utf8("aaD"), ciphertext), isDecryptFailed);
  await assert.rejects(hpkeOpen(sk, flip(enc, 3), info, aad, ciphertext), isDecryptFailed);
  await assert.rejects(hpkeOpen(sk, enc, info, aad, flip(ciphertext, 0)), isDecryptFailed);
  await assert.rejects(hpkeOpen(sk, enc, info, aad, flip(ciphertext, 21)), isDecryptFailed);
  await assert.rejects(hpkeOpen(sk, enc.subarray(1), info, aad, ciphertext), isDecryptFailed);
  await assert.rejects(hpkeOpen(sk, enc, info, aad, new Uint8Array(0)), isDecryptFailed);
});

Deno.test("hpkeSeal() refuses a low-order recipient key and keys of the wrong length", async () => {
  await assert.rejects(
    hpkeSeal(new Uint8Array(32), utf8("i"), utf8("a"), utf8("p")),
    (e) => e instanceof EnvelopeError && e.code === "bad_recipient_key",
  );
  await assert.rejects(hpkeSeal(new Uint8Array(31), utf8("i"), utf8("a"), utf8("p")), RangeError);
  await assert.rejects(
    hpkeOpen(new Uint8Array(33), new Uint8Array(32), utf8("i"), utf8("a"), new Uint8Array(16)),
    RangeError,
  );
});

function isDecryptFailed(e: unknown): boolean {
  return e instanceof EnvelopeError && e.code === "decrypt_failed";
}
