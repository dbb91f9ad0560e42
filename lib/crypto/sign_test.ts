import assert from "node:assert/strict";
import { fromHex, utf8 } from "../bytes.ts";
import { fingerprint, generateSigningKeyPair, sign, verify } from "./sign.ts";

interface EddsaGroup {
  publicKey: { pk: string };
  tests: { tcId: number; comment: string; msg: string; sig: string; result: string }[];
}

async function loadGroups(): Promise<EddsaGroup[]> {
  const url = new URL("../../testdata/wycheproof/ed25519_test.json", import.meta.url);
  return JSON.parse(await Deno.readTextFile(url)).testGroups;
}

Deno.test("verify() agrees with every Wycheproof Ed25519 case", async () => {
  let checked = 0;
  for (const group of await loadGroups()) {
    const pk = fromHex(group.publicKey.pk);
    for (const t of group.tests) {
      const ok = await verify(pk, fromHex(t.msg), fromHex(t.sig));
      assert.equal(ok, t.result === "valid", `tcId ${t.tcId}: ${t.comment}`);
      checked++;
    }
  }
  assert.equal(checked, 151);
});

Deno.test("sign() output verifies under the generated public key", async () => {
  const { publicKey, privateKeyPkcs8 } = await generateSigningKeyPair();
  assert.equal(publicKey.length, 32);
  const message = utf8("transcript hash");
  const signature = await sign(privateKeyPkcs8, message);
  assert.equal(signature.length, 64);
  assert.equal(await verify(publicKey, message, signature), true);
});

Deno.test("verify() rejects a signature over a different message or under another key", async () => {
  const alice = await generateSigningKeyPair();
  const bob = await generateSigningKeyPair();
  const signature = await sign(alice.privateKeyPkcs8, utf8("hello"));
  assert.equal(await verify(alice.publicKey, utf8("hellp"), signature), false);
  assert.equal(await verify(bob.publicKey, utf8("hello"), signature), false);
});

Deno.test("sign() reproduces RFC 8032 §7.1 test 1", async () => {
  // PKCS #8 wrapping (RFC 8410 §7) of the RFC 8032 test 1 secret key.
  const pkcs8 = fromHex(
    "302e020100300506032b657004220420" +
      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  );
  const signature = await sign(pkcs8, new Uint8Array());
  assert.deepEqual(
    signature,
    fromHex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
  );
  const publicKey = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  assert.equal(await verify(publicKey, new Uint8Array(), signature), true);
});

Deno.test("verify() returns false, without throwing, for malformed keys and signatures", async () => {
  const { publicKey, privateKeyPkcs8 } = await generateSigningKeyPair();
  const message = utf8("m");
  const signature = await sign(privateKeyPkcs8, message);
  assert.equal(await verify(publicKey.subarray(1), message, signature), false);
  assert.equal(await verify(new Uint8Array(33), message, signature), false);
  assert.equal(await verify(publicKey, message, signature.subarray(0, 63)), false);
  assert.equal(await verify(publicKey, message, new Uint8Array(65)), false);
  assert.equal(await verify(new Uint8Array(32).fill(0xff), message, signature), false);
  const notBytes = "x" as unknown as Uint8Array;
  assert.equal(await verify(notBytes, message, signature), false);
  assert.equal(await verify(publicKey, notBytes, signature), false);
  assert.equal(await verify(publicKey, message, notBytes), false);
});

Deno.test("verify() rejects S ≥ L even when S mod L would verify", async () => {
  const { publicKey, privateKeyPkcs8 } = await generateSigningKeyPair();
  const message = utf8("malleable?");
  const signature = await sign(privateKeyPkcs8, message);
  // Add L to S (little-endian); S < L < 2^253, so the sum still fits in 32 bytes.
  const order = fromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  const forged = signature.slice();
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const sum = forged[32 + i]! + order[i]! + carry;
    forged[32 + i] = sum & 0xff;
    carry = sum >> 8;
  }
  assert.equal(await verify(publicKey, message, forged), false);
});

Deno.test("fingerprint() formats a known key as SHA256: and unpadded base64", () => {
  const publicKey = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  // python3: base64.b64encode(hashlib.sha256(pk).digest()).rstrip(b"=")
  assert.equal(fingerprint(publicKey), "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk");
  assert.equal(
    fingerprint(new Uint8Array(32)),
    "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU",
  );
});

Deno.test("fingerprint() rejects a key that is not 32 bytes", () => {
  assert.throws(() => fingerprint(new Uint8Array(31)), RangeError);
  assert.throws(() => fingerprint("k" as unknown as Uint8Array), TypeError);
});
