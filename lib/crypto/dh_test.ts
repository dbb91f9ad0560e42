import assert from "node:assert/strict";
import { fromHex, sha256, toHex } from "../bytes.ts";
import {
  computeSharedSecret,
  type DhGroup,
  type FfdhGroup,
  generateKeyPair,
  groupId,
  importPrivateKey,
  MAX_PRIME_BITS,
  MIN_PRIME_BITS,
  namedGroup,
  publicValueLength,
  validateGroupParameters,
  validatePublicValue,
} from "./dh.ts";
import { decodeDhParamsPem, encodeDhParamsDer } from "./dhparam.ts";
import { DhError } from "../errors.ts";
import { FFDHE2048 } from "./ffdhe.ts";

/** An openssl-generated 2048-bit safe prime with g = 2 (see testdata/README.md). */
const fixture = decodeDhParamsPem(
  await Deno.readTextFile(new URL("../../testdata/dh2048.pem", import.meta.url)),
);

/** Validated once and shared: a 2048-bit custom group costs ~0.5 s of Miller-Rabin. */
let customGroup: FfdhGroup | undefined;
function custom(): FfdhGroup {
  customGroup ??= validateGroupParameters(fixture.p, fixture.g);
  return customGroup;
}

function isDhError(code: string, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof DhError, `expected DhError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

function encode(n: bigint, length: number): Uint8Array {
  return fromHex(n.toString(16).padStart(length * 2, "0"));
}

interface XdhVector {
  tcId: number;
  comment: string;
  public: string;
  private: string;
  shared: string;
  result: "valid" | "acceptable" | "invalid";
  flags: string[];
}

Deno.test("computeSharedSecret() matches every Wycheproof X25519 vector and rejects zero secrets", async () => {
  const url = new URL("../../testdata/wycheproof/x25519_test.json", import.meta.url);
  const suite = JSON.parse(await Deno.readTextFile(url)) as {
    testGroups: { tests: XdhVector[] }[];
  };
  const x25519 = namedGroup("x25519");
  let checked = 0;
  for (const group of suite.testGroups) {
    for (const t of group.tests) {
      const label = `tcId ${t.tcId} (${t.comment}; ${t.flags.join(",")})`;
      const own = await importPrivateKey(x25519, fromHex(t.private));
      const peer = fromHex(t.public);
      if (t.flags.includes("ZeroSharedSecret")) {
        // Low-order points: RFC 7748 §6.1 lets implementations reject the all-zero output,
        // and ssp must, so that a peer cannot force a known secret.
        assert.equal(t.shared, "00".repeat(32), label);
        await assert.rejects(computeSharedSecret(own, peer), isDhError("dh_low_order"), label);
      } else {
        // "valid" vectors and the "acceptable" ones (points on the twist, non-canonical
        // u-coordinates, edge-case arithmetic; RFC 7748 §5 defines their results and §7 says
        // to accept them) must all give exactly the expected secret.
        assert.notEqual(t.result, "invalid", label);
        assert.equal(toHex(await computeSharedSecret(own, peer)), t.shared, label);
      }
      checked++;
    }
  }
  assert.ok(checked > 500, `only ${checked} vectors checked`);
});

Deno.test("importPrivateKey() derives the RFC 7748 §6.1 X25519 public keys", async () => {
  const alice = await importPrivateKey(
    namedGroup("x25519"),
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  );
  assert.equal(
    toHex(alice.publicKey),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
});

const groups: [string, () => DhGroup][] = [
  ["x25519", () => namedGroup("x25519")],
  ["ffdhe2048", () => namedGroup("ffdhe2048")],
  ["ffdhe3072", () => namedGroup("ffdhe3072")],
  ["ffdhe4096", () => namedGroup("ffdhe4096")],
  ["custom 2048-bit", custom],
];

for (const [name, makeGroup] of groups) {
  Deno.test(`both sides of a ${name} exchange compute the same secret`, async () => {
    const group = makeGroup();
    const alice = await generateKeyPair(group);
    const bob = await generateKeyPair(group);
    assert.equal(alice.publicKey.length, publicValueLength(group));
    assert.notDeepEqual(alice.publicKey, bob.publicKey);
    const a = await computeSharedSecret(alice, bob.publicKey);
    const b = await computeSharedSecret(bob, alice.publicKey);
    assert.deepEqual(a, b);
    assert.equal(a.length, publicValueLength(group));
    assert.ok(!("x" in alice) && Object.keys(alice).sort().join() === "group,publicKey");
  });
}

Deno.test("a finite-field key pair imported from x gives y = g^x and the known secret", async () => {
  const group = namedGroup("ffdhe2048");
  const own = await importPrivateKey(group, Uint8Array.of(3));
  assert.deepEqual(own.publicKey, encode(8n, 256));
  // (2^5)^3 = 2^15
  assert.deepEqual(await computeSharedSecret(own, encode(32n, 256)), encode(1n << 15n, 256));
  await assert.rejects(importPrivateKey(group, Uint8Array.of(1)), RangeError);
  await assert.rejects(importPrivateKey(group, encode(FFDHE2048.q - 1n, 256)), RangeError);
});

Deno.test("validateGroupParameters() accepts an openssl safe-prime group as custom", () => {
  const group = custom();
  assert.equal(group.name, "custom");
  assert.equal(group.bits, 2048);
  assert.equal(group.q, (fixture.p - 1n) / 2n);
});

Deno.test("validateGroupParameters() returns the named group for RFC 7919 parameters", () => {
  assert.equal(validateGroupParameters(FFDHE2048.p, 2n), namedGroup("ffdhe2048"));
});

Deno.test("validateGroupParameters() rejects a 1024-bit prime", () => {
  const p1024 = (FFDHE2048.p >> 1024n) | 1n;
  assert.throws(
    () => validateGroupParameters(p1024, 2n),
    isDhError("dh_prime_too_small", /^server DH prime is 1024 bits; ssp requires at least 2048$/),
  );
  assert.throws(
    () => validateGroupParameters(0n, 2n),
    isDhError("dh_prime_too_small", /is 0 bits/),
  );
  assert.equal(MIN_PRIME_BITS, 2048);
});

Deno.test("validateGroupParameters() rejects a prime too large to test cheaply", () => {
  const huge = (1n << BigInt(MAX_PRIME_BITS + 1)) - 1n;
  assert.throws(() => validateGroupParameters(huge, 2n), isDhError("dh_prime_too_large"));
});

Deno.test("validateGroupParameters() rejects a composite modulus", () => {
  // fixture.p + 12 has no factor below 2000, so only the Fermat/Miller-Rabin step catches it.
  assert.throws(
    () => validateGroupParameters(fixture.p + 12n, 2n),
    isDhError("dh_prime_composite", /^server DH prime is not prime \(composite modulus\)$/),
  );
  assert.throws(() => validateGroupParameters(fixture.p + 2n, 2n), isDhError("dh_prime_composite"));
});

Deno.test("validateGroupParameters() rejects a prime that is not a safe prime", () => {
  // 2^2203 − 1 is a Mersenne prime; (p − 1)/2 = 2^2202 − 1 is divisible by 3.
  assert.throws(
    () => validateGroupParameters((1n << 2203n) - 1n, 2n),
    isDhError("dh_prime_not_safe", /not a safe prime/),
  );
});

Deno.test("validateGroupParameters() rejects generators 0, 1, p − 1, p and beyond", () => {
  const { p } = fixture;
  assert.throws(
    () => validateGroupParameters(p, p - 1n),
    isDhError("dh_bad_generator", /^server DH generator has order 2, not q$/),
  );
  assert.throws(() => validateGroupParameters(p, 1n), isDhError("dh_bad_generator", /is 1/));
  assert.throws(() => validateGroupParameters(p, 0n), isDhError("dh_bad_generator", /is 0/));
  assert.throws(() => validateGroupParameters(p, p), isDhError("dh_bad_generator", /not less/));
  assert.throws(() => validateGroupParameters(p, p + 5n), isDhError("dh_bad_generator"));
});

Deno.test("validateGroupParameters() rejects a generator of order 2q", () => {
  // p ≡ 23 (mod 24) makes 2 a square and −1 a non-square mod p, so −2 = p − 2 is a
  // non-square: its order is 2q, not q.
  assert.equal(fixture.p % 24n, 23n);
  assert.throws(
    () => validateGroupParameters(fixture.p, fixture.p - 2n),
    isDhError("dh_bad_generator", /g\^q ≠ 1/),
  );
});

Deno.test("validateGroupParameters() skips primality tests only for ids the caller validated", () => {
  const composite = fixture.p + 12n;
  const id = toHex(sha256(encodeDhParamsDer(composite, 2n)));
  // With the id marked as validated, the composite gets past the skipped test and only the
  // generator check (cheap, always run) fails; without it, the primality test catches it.
  assert.throws(
    () => validateGroupParameters(composite, 2n, { validatedIds: new Set([id]) }),
    isDhError("dh_bad_generator"),
  );
  assert.throws(
    () => validateGroupParameters(composite, 2n, { validatedIds: new Set(["00"]) }),
    isDhError("dh_prime_composite"),
  );
});

for (const [name, makeGroup] of groups.slice(1)) {
  Deno.test(`validatePublicValue() rejects out-of-range and wrongly sized values in ${name}`, () => {
    const group = makeGroup() as FfdhGroup;
    const length = publicValueLength(group);
    const cases: [bigint, RegExp][] = [
      [0n, /^peer DH public value is 0 \(out of range\)$/],
      [1n, /^peer DH public value is 1 \(out of range\)$/],
      [group.p - 1n, /^peer DH public value is p − 1 \(out of range\)$/],
      [group.p, /not less than p/],
      [group.p + 1n, /not less than p/],
    ];
    for (const [y, message] of cases) {
      assert.throws(
        () => validatePublicValue(group, encode(y, length)),
        isDhError("dh_bad_public_value", message),
      );
    }
    for (const wrong of [0, length - 1, length + 1]) {
      assert.throws(
        () => validatePublicValue(group, new Uint8Array(wrong).fill(7)),
        isDhError("dh_bad_public_value", new RegExp(`is ${wrong} bytes; .* needs ${length}$`)),
      );
    }
    // 2 and 4 are squares mod each of these primes, so in the order-q subgroup.
    validatePublicValue(group, encode(2n, length));
    validatePublicValue(group, encode(4n, length));
  });
}

Deno.test("validatePublicValue() rejects a custom-group value outside the order-q subgroup", () => {
  const group = custom();
  // p − 2 has order 2q (see the generator test above). RFC 7919 groups accept it by design.
  const y = encode(group.p - 2n, 256);
  assert.throws(
    () => validatePublicValue(group, y),
    isDhError("dh_bad_public_value", /outside the prime-order subgroup/),
  );
  validatePublicValue(namedGroup("ffdhe2048"), encode(FFDHE2048.p - 2n, 256));
});

Deno.test("computeSharedSecret() validates the peer value before using it", async () => {
  const own = await generateKeyPair(namedGroup("ffdhe2048"));
  await assert.rejects(
    computeSharedSecret(own, encode(1n, 256)),
    isDhError("dh_bad_public_value", /is 1 \(out of range\)/),
  );
  const x = await generateKeyPair(namedGroup("x25519"));
  await assert.rejects(
    computeSharedSecret(x, new Uint8Array(31)),
    isDhError("dh_bad_public_value", /^peer X25519 share is 31 bytes; X25519 needs 32$/),
  );
  await assert.rejects(
    computeSharedSecret(x, new Uint8Array(32)),
    isDhError("dh_low_order", /^peer X25519 share gives an all-zero secret \(low-order point\)$/),
  );
});

Deno.test("hand-built groups and key pairs are refused", async () => {
  const forged = { name: "custom", p: 23n, g: 2n, q: 11n, bits: 5 } as const;
  await assert.rejects(generateKeyPair(forged), TypeError);
  assert.throws(() => validatePublicValue(forged, Uint8Array.of(4)), TypeError);
  const pair = { group: namedGroup("x25519"), publicKey: new Uint8Array(32) };
  await assert.rejects(computeSharedSecret(pair, new Uint8Array(32).fill(9)), TypeError);
});

Deno.test("groupId() is the SHA-256 of the DER parameters, stable across equal groups", () => {
  assert.equal(
    groupId(namedGroup("ffdhe2048")),
    "ca697111b7a89a23ac7ce82ce56d0fa260cbff835dc82bb6f440e8bf395d3155",
  );
  assert.equal(
    groupId(namedGroup("x25519")),
    "da2508c14e0597af040af12819967a87223c5d16c77edc782dc77ae3f483aad4",
  );
  assert.equal(groupId(custom()), toHex(sha256(encodeDhParamsDer(fixture.p, fixture.g))));
  assert.notEqual(groupId(custom()), groupId(namedGroup("ffdhe2048")));
});
