import assert from "node:assert/strict";
import fc from "fast-check";
import { utf8 } from "../bytes.ts";
import { AuthError } from "../errors.ts";
import { sign, verify } from "../crypto/mod.ts";
import { hpkeOpen, hpkeSeal } from "./hpke.ts";
import { generateIdentityKeys, type IdentityKeys, openKeyBackup, sealKeyBackup } from "./keys.ts";

const WRAP_KEY = new Uint8Array(32).fill(0x42);

function isUnreadable(e: unknown): boolean {
  return e instanceof AuthError && e.code === "key_backup_unreadable" &&
    e.message === "cannot decrypt the key backup: wrong password or corrupted backup";
}

Deno.test("generateIdentityKeys() returns X25519 and Ed25519 keys of the stored sizes", async () => {
  const keys = await generateIdentityKeys();
  assert.equal(keys.encryption.publicKey.length, 32);
  assert.equal(keys.encryption.privateKey.length, 32);
  assert.equal(keys.signing.publicKey.length, 32);
  assert.equal(keys.signing.privateKeyPkcs8.length, 48);
  const other = await generateIdentityKeys();
  assert.notDeepEqual(other.encryption.publicKey, keys.encryption.publicKey);
  assert.notDeepEqual(other.signing.publicKey, keys.signing.publicKey);
});

Deno.test("a key backup round-trips and the restored keys still encrypt and sign", async () => {
  const keys = await generateIdentityKeys();
  const blob = sealKeyBackup(WRAP_KEY, keys);
  assert.equal(blob[0], 1);
  const restored = await openKeyBackup(WRAP_KEY, blob);
  assert.deepEqual(restored, keys);

  const info = utf8("ssp/1 test");
  const sealed = await hpkeSeal(keys.encryption.publicKey, info, info, utf8("for me"));
  assert.deepEqual(
    await hpkeOpen(restored.encryption.privateKey, sealed.enc, info, info, sealed.ciphertext),
    utf8("for me"),
  );
  const signature = await sign(restored.signing.privateKeyPkcs8, utf8("signed"));
  assert.equal(await verify(keys.signing.publicKey, utf8("signed"), signature), true);
});

Deno.test("each backup uses a fresh salt, so two backups of the same keys differ", async () => {
  const keys = await generateIdentityKeys();
  const a = sealKeyBackup(WRAP_KEY, keys);
  const b = sealKeyBackup(WRAP_KEY, keys);
  assert.notDeepEqual(a.subarray(1, 17), b.subarray(1, 17));
  assert.notDeepEqual(a.subarray(17), b.subarray(17));
});

Deno.test("openKeyBackup() with the wrong wrap key fails with key_backup_unreadable", async () => {
  const blob = sealKeyBackup(WRAP_KEY, await generateIdentityKeys());
  await assert.rejects(openKeyBackup(new Uint8Array(32), blob), isUnreadable);
});

Deno.test("openKeyBackup() rejects any single altered byte", async () => {
  const blob = sealKeyBackup(WRAP_KEY, await generateIdentityKeys());
  for (let i = 0; i < blob.length; i++) {
    const bad = blob.slice();
    bad[i]! ^= 0x01;
    await assert.rejects(openKeyBackup(WRAP_KEY, bad), isUnreadable, `byte ${i}`);
  }
});

Deno.test("openKeyBackup() rejects truncated, extended and garbage blobs", async () => {
  const blob = sealKeyBackup(WRAP_KEY, await generateIdentityKeys());
  for (const length of [0, 1, 16, 17, 33, blob.length - 1]) {
    await assert.rejects(openKeyBackup(WRAP_KEY, blob.subarray(0, length)), isUnreadable);
  }
  await assert.rejects(openKeyBackup(WRAP_KEY, Uint8Array.of(...blob, 0)), isUnreadable);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (garbage) => {
      await assert.rejects(openKeyBackup(WRAP_KEY, garbage), isUnreadable);
    }),
    { numRuns: 200 },
  );
});

Deno.test("sealKeyBackup() refuses a wrap key or identity keys of the wrong length", async () => {
  const keys = await generateIdentityKeys();
  assert.throws(() => sealKeyBackup(new Uint8Array(16), keys), RangeError);
  const broken: IdentityKeys = {
    ...keys,
    encryption: { ...keys.encryption, privateKey: new Uint8Array(31) },
  };
  assert.throws(() => sealKeyBackup(WRAP_KEY, broken), RangeError);
});

Deno.test("openKeyBackup() refuses a backup whose private keys do not match the public ones", async () => {
  const keys = await generateIdentityKeys();
  const other = await generateIdentityKeys();
  const mismatched: IdentityKeys = {
    encryption: keys.encryption,
    signing: { ...other.signing, publicKey: keys.signing.publicKey },
  };
  await assert.rejects(openKeyBackup(WRAP_KEY, sealKeyBackup(WRAP_KEY, mismatched)), isUnreadable);
  const swapped: IdentityKeys = {
    encryption: { ...keys.encryption, privateKey: other.encryption.privateKey },
    signing: keys.signing,
  };
  await assert.rejects(openKeyBackup(WRAP_KEY, sealKeyBackup(WRAP_KEY, swapped)), isUnreadable);
});
