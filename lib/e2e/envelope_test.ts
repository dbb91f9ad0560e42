import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { concatBytes, utf8 } from "../bytes.ts";
import { EnvelopeError } from "../errors.ts";
import { sign } from "../crypto/mod.ts";
import type { Content } from "./content.ts";
import { MAX_ENVELOPE_BYTES, MAX_RECIPIENTS, newMessageId } from "../protocol/mod.ts";
import { openEnvelope, parseEnvelope, sealEnvelope, type SealEnvelopeOptions } from "./envelope.ts";
import { generateIdentityKeys, type IdentityKeys } from "./keys.ts";

interface User {
  phone: string;
  keys: IdentityKeys;
}

const [alice, bob, carol, dave] = await Promise.all(
  ["+15550000001", "+15550000002", "+15550000003", "+447700900004"].map(async (phone) => ({
    phone,
    keys: await generateIdentityKeys(),
  })),
) as [User, User, User, User];

const HELLO: Content = { kind: "text", text: "hello" };

function recipient(user: User) {
  return { phone: user.phone, encryptionKey: user.keys.encryption.publicKey };
}

/** Options for `sender` to send `content` to `to`, with the sender's own copy. */
function options(sender: User, to: User[], content: Content = HELLO): SealEnvelopeOptions {
  return {
    id: newMessageId(),
    from: sender.phone,
    to: to.map((u) => u.phone),
    timestamp: 1_790_000_000_000,
    content,
    signingKey: sender.keys.signing.privateKeyPkcs8,
    recipients: [...to, sender].map(recipient),
  };
}

/** Opens `wire` as `reader`, checking the signature against `pinnedSender`'s key. */
async function openAs(wire: Uint8Array, reader: User, pinnedSender: User): Promise<Content> {
  return await openEnvelope(parseEnvelope(wire), {
    phone: reader.phone,
    encryptionPrivateKey: reader.keys.encryption.privateKey,
    senderSigningKey: pinnedSender.keys.signing.publicKey,
  });
}

function hasCode(code: string) {
  return (e: unknown) => e instanceof EnvelopeError && e.code === code;
}

/** Re-encodes an envelope after `edit` changed its signed array, keeping the old signature. */
function tamper(wire: Uint8Array, edit: (signed: unknown[]) => void): Uint8Array {
  const outer = decode(wire) as { s: Uint8Array; sig: Uint8Array };
  const signed = decode(outer.s) as unknown[];
  edit(signed);
  return encode({ s: encode(signed), sig: outer.sig });
}

Deno.test("an envelope to one recipient opens for the recipient and the sender", async () => {
  const opts = options(alice, [bob]);
  const wire = await sealEnvelope(opts);
  const parsed = parseEnvelope(wire);
  assert.equal(parsed.version, 1);
  assert.equal(parsed.id, opts.id);
  assert.match(parsed.id, /^[0-9a-f]{32}$/);
  assert.equal(parsed.from, alice.phone);
  assert.deepEqual(parsed.to, [bob.phone]);
  assert.equal(parsed.timestamp, opts.timestamp);
  assert.deepEqual(parsed.keys.map((k) => k.phone), [bob.phone, alice.phone]);
  assert.deepEqual(await openAs(wire, bob, alice), HELLO);
  assert.deepEqual(await openAs(wire, alice, alice), HELLO);
});

Deno.test("an envelope to several recipients opens for each of them and the sender", async () => {
  const receipt: Content = { kind: "receipt", receipt: "read", ids: [newMessageId()] };
  const wire = await sealEnvelope(options(alice, [bob, carol, dave], receipt));
  for (const reader of [bob, carol, dave, alice]) {
    assert.deepEqual(await openAs(wire, reader, alice), receipt);
  }
});

Deno.test("openEnvelope() refuses a reader who is not a recipient", async () => {
  const wire = await sealEnvelope(options(alice, [bob]));
  await assert.rejects(openAs(wire, carol, alice), hasCode("not_a_recipient"));
});

Deno.test("openEnvelope() refuses a recipient's number with another user's private key", async () => {
  const wire = await sealEnvelope(options(alice, [bob]));
  await assert.rejects(
    openEnvelope(parseEnvelope(wire), {
      phone: bob.phone,
      encryptionPrivateKey: carol.keys.encryption.privateKey,
      senderSigningKey: alice.keys.signing.publicKey,
    }),
    hasCode("decrypt_failed"),
  );
});

Deno.test("every single-byte change anywhere in an envelope is rejected", async () => {
  const wire = await sealEnvelope(options(alice, [bob]));
  for (let i = 0; i < wire.length; i++) {
    const bad = wire.slice();
    bad[i]! ^= 0x01;
    await assert.rejects(openAs(bad, bob, alice), EnvelopeError, `byte ${i}`);
  }
});

Deno.test("random byte changes at random positions are rejected (property)", async () => {
  const wire = await sealEnvelope(options(alice, [bob, carol]));
  await fc.assert(
    fc.asyncProperty(
      fc.nat(wire.length - 1),
      fc.integer({ min: 1, max: 255 }),
      async (position, mask) => {
        const bad = wire.slice();
        bad[position]! ^= mask;
        await assert.rejects(openAs(bad, carol, alice), EnvelopeError);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a sender forged by another user's key fails against the pinned key", async () => {
  // Bob claims to be Alice and signs with his own key.
  const forged = await sealEnvelope({
    ...options(alice, [carol]),
    signingKey: bob.keys.signing.privateKeyPkcs8,
  });
  await assert.rejects(openAs(forged, carol, alice), (e) => {
    assert.ok(e instanceof EnvelopeError);
    assert.equal(e.code, "bad_signature");
    assert.equal(e.message, `signature does not match ${alice.phone}'s key`);
    return true;
  });
});

Deno.test("swapping the bodies of two envelopes is rejected", async () => {
  const one = await sealEnvelope(options(alice, [bob], { kind: "text", text: "one" }));
  const two = await sealEnvelope(options(alice, [bob], { kind: "text", text: "two" }));
  const otherBody = (decode((decode(two) as { s: Uint8Array }).s) as unknown[])[5];
  const swapped = tamper(one, (signed) => signed[5] = otherBody);
  await assert.rejects(openAs(swapped, bob, alice), hasCode("bad_signature"));
});

Deno.test("a recipient list altered by the server is rejected", async () => {
  const wire = await sealEnvelope(options(alice, [bob, carol]));
  type Key = { phone: string };
  // Drop Carol from `to` and her wrapped key.
  const dropped = tamper(wire, (signed) => {
    signed[3] = [bob.phone];
    signed[6] = (signed[6] as Key[]).filter((k) => k.phone !== carol.phone);
  });
  await assert.rejects(openAs(dropped, bob, alice), hasCode("bad_signature"));
  // Give Carol's wrapped key to Dave.
  const renamed = tamper(wire, (signed) => {
    signed[3] = [bob.phone, dave.phone];
    for (const k of signed[6] as Key[]) if (k.phone === carol.phone) k.phone = dave.phone;
  });
  await assert.rejects(openAs(renamed, bob, alice), hasCode("bad_signature"));
  // Reorder the recipients.
  const reordered = tamper(wire, (signed) => signed[3] = [carol.phone, bob.phone]);
  await assert.rejects(openAs(reordered, bob, alice), hasCode("bad_signature"));
});

Deno.test("the header is bound to the body even for a sender who re-signs", async () => {
  // Not a server attack (the server cannot sign as Alice): it shows that the AEAD
  // associated data ties body and wrapped keys to their header.
  const wire = await sealEnvelope(options(alice, [bob]));
  const outer = decode(wire) as { s: Uint8Array };
  const signed = decode(outer.s) as unknown[];
  signed[4] = (signed[4] as number) + 1; // a different timestamp
  const resigned = await sealEnvelopeFromSigned(encode(signed), alice);
  await assert.rejects(openAs(resigned, bob, alice), hasCode("decrypt_failed"));
});

Deno.test("sealEnvelope() enforces the size limit at and around the boundary", async () => {
  const opts = options(alice, [bob]);
  const size = (await sealEnvelope(opts)).length;
  assert.equal((await sealEnvelope({ ...opts, maxBytes: size })).length, size);
  await assert.rejects(sealEnvelope({ ...opts, maxBytes: size - 1 }), hasCode("too_large"));
  await assert.rejects(
    sealEnvelope(options(alice, [bob], { kind: "text", text: "x".repeat(64 * 1024 + 1) })),
    hasCode("too_large"),
  );
});

Deno.test("parseEnvelope() enforces the size limit before decoding", async () => {
  const wire = await sealEnvelope(options(alice, [bob]));
  assert.equal(parseEnvelope(wire, { maxBytes: wire.length }).from, alice.phone);
  assert.throws(() => parseEnvelope(wire, { maxBytes: wire.length - 1 }), hasCode("too_large"));
  assert.throws(() => parseEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1)), hasCode("too_large"));
  // The largest legal text still fits the default limit.
  const big = await sealEnvelope(
    options(alice, [bob], { kind: "text", text: "x".repeat(64 * 1024) }),
  );
  assert.ok(big.length <= MAX_ENVELOPE_BYTES);
  assert.equal((await openAs(big, bob, alice) as { text: string }).text.length, 64 * 1024);
});

Deno.test("an envelope names at most MAX_RECIPIENTS recipients, like the send request", async () => {
  // Distinct numbers sharing Bob's key: the limit counts numbers, not keys.
  const numbers = Array.from({ length: MAX_RECIPIENTS + 1 }, (_, i) => `+1555100${1000 + i}`);
  const sealFor = (to: string[]) =>
    sealEnvelope({
      ...options(alice, []),
      to,
      recipients: [...to, alice.phone].map((phone) => ({
        phone,
        encryptionKey: phone === alice.phone
          ? alice.keys.encryption.publicKey
          : bob.keys.encryption.publicKey,
      })),
    });
  const full = await sealFor(numbers.slice(0, MAX_RECIPIENTS));
  assert.equal(parseEnvelope(full).to.length, MAX_RECIPIENTS);
  await assert.rejects(sealFor(numbers), TypeError);
  const tooMany = tamper(full, (signed) => signed[3] = numbers);
  assert.throws(() => parseEnvelope(tooMany), hasCode("malformed"));
});

Deno.test("parseEnvelope() rejects an unknown version", async () => {
  const wire = await sealEnvelope(options(alice, [bob]));
  const v2 = tamper(wire, (signed) => signed[0] = 2);
  assert.throws(() => parseEnvelope(v2), hasCode("unsupported_version"));
});

Deno.test("parseEnvelope() rejects wrapped keys that do not match to and from", async () => {
  const wire = await sealEnvelope(options(alice, [bob, carol]));
  type Key = { phone: string };
  const cases: ((signed: unknown[]) => void)[] = [
    (s) => s[6] = (s[6] as Key[]).filter((k) => k.phone !== alice.phone), // no sender copy
    (s) => s[6] = [...(s[6] as Key[]), (s[6] as Key[])[0]], // a repeated key
    (s) => s[3] = [bob.phone, bob.phone], // a repeated recipient
    (s) => s[3] = [bob.phone], // a key for a number not addressed
  ];
  for (const edit of cases) {
    assert.throws(() => parseEnvelope(tamper(wire, edit)), hasCode("malformed"));
  }
});

Deno.test("parseEnvelope() turns garbage into EnvelopeError, never a crash", () => {
  const sig = new Uint8Array(64);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 600 }),
        fc.anything().map((v) => encode(v)),
        fc.anything().map((v) => encode({ s: encode(v), sig })),
        fc.array(fc.anything(), { maxLength: 8 }).map((a) => encode({ s: encode([1, ...a]), sig })),
      ),
      (bytes) => {
        try {
          parseEnvelope(bytes);
        } catch (e) {
          assert.ok(e instanceof EnvelopeError, String(e));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("sealEnvelope() refuses recipients that do not cover exactly to and from", async () => {
  const opts = options(alice, [bob, carol]);
  const cases: SealEnvelopeOptions[] = [
    { ...opts, recipients: [recipient(bob), recipient(carol)] }, // no sender copy
    { ...opts, recipients: [recipient(bob), recipient(alice)] }, // Carol missing
    { ...opts, recipients: [...opts.recipients, recipient(dave)] }, // Dave not addressed
    { ...opts, to: [bob.phone, bob.phone] },
    { ...opts, id: "not-an-id" },
    { ...opts, from: "5550000001" },
    { ...opts, timestamp: -1 },
  ];
  for (const bad of cases) await assert.rejects(sealEnvelope(bad), TypeError);
});

Deno.test("sealEnvelope() draws a fresh content key each time", async () => {
  const opts = options(alice, [bob]);
  const a = parseEnvelope(await sealEnvelope(opts));
  const b = parseEnvelope(await sealEnvelope(opts));
  assert.notDeepEqual(a.body, b.body);
  assert.notDeepEqual(a.keys[0]!.enc, b.keys[0]!.enc);
});

/** Signs arbitrary signed bytes as `sender`, as only the holder of its key could. */
async function sealEnvelopeFromSigned(signed: Uint8Array, sender: User): Promise<Uint8Array> {
  const message = concatBytes(utf8("ssp/1 envelope\0"), signed);
  return encode({ s: signed, sig: await sign(sender.keys.signing.privateKeyPkcs8, message) });
}
