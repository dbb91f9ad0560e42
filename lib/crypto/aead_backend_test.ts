import assert from "node:assert/strict";
import fc from "fast-check";
import { fromHex, toHex } from "../bytes.ts";
import { RecordError } from "../errors.ts";
import {
  AEAD_SUITES,
  AeadBackend,
  aeadBackend,
  type AeadSuite,
  loadOpensslBackend,
  NODE_BACKEND,
  preferredSuites,
  TAG_BYTES,
} from "./aead_backend.ts";
import { hardwareAes } from "./_aead_openssl.ts";
import { aeadGroups } from "./_test_wycheproof.ts";

const openssl = loadOpensslBackend();
const OPENSSL = typeof openssl === "string" ? undefined : openssl;
/** Every backend this process can run: node always, OpenSSL where libcrypto 3 loads. */
const BACKENDS: AeadBackend[] = [NODE_BACKEND, ...(OPENSSL ? [OPENSSL] : [])];
const noOpenssl = OPENSSL === undefined;

const VECTORS: Record<AeadSuite, { file: string; cases: number }> = {
  "chacha20-poly1305": { file: "chacha20_poly1305_test.json", cases: 325 },
  "aes-256-gcm": { file: "aes_gcm_test.json", cases: 316 },
};

function seal(
  backend: AeadBackend,
  suite: AeadSuite,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  msg: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(msg.length + TAG_BYTES);
  backend.sealInto(
    suite,
    key,
    nonce,
    aad,
    [msg],
    [out.subarray(0, msg.length)],
    out.subarray(msg.length),
  );
  return out;
}

function open(
  backend: AeadBackend,
  suite: AeadSuite,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  const n = sealed.length - TAG_BYTES;
  const out = new Uint8Array(n);
  backend.openInto(suite, key, nonce, aad, [sealed.subarray(0, n)], sealed.subarray(n), [out]);
  return out;
}

function isAuthFailure(error: unknown): boolean {
  assert.ok(error instanceof RecordError, `expected RecordError, got ${error}`);
  assert.equal(error.code, "record_auth_failed");
  return true;
}

for (const backend of [NODE_BACKEND, OPENSSL]) {
  for (const suite of AEAD_SUITES) {
    const name = backend?.info.name ?? "openssl";
    Deno.test({
      name: `${name} ${suite} passes every Wycheproof case`,
      ignore: backend === undefined,
      async fn() {
        const b = backend!;
        const { file, cases } = VECTORS[suite];
        const groups = await aeadGroups(file);
        let checked = 0;
        for (const group of groups) {
          for (const t of group.tests) {
            checked++;
            const [key, iv, aad, msg] = [t.key, t.iv, t.aad, t.msg].map(fromHex) as [
              Uint8Array,
              Uint8Array,
              Uint8Array,
              Uint8Array,
            ];
            const sealed = fromHex(t.ct + t.tag);
            const label = `tcId ${t.tcId}`;
            if (group.ivSize !== 96 || group.keySize !== 256) {
              // ssp uses 256-bit keys and 96-bit nonces only; the boundary refuses the rest.
              assert.throws(() => seal(b, suite, key, iv, aad, msg), RangeError, label);
              continue;
            }
            if (t.result === "valid") {
              assert.equal(toHex(seal(b, suite, key, iv, aad, msg)), t.ct + t.tag, label);
              assert.deepEqual(open(b, suite, key, iv, aad, sealed), msg, label);
            } else {
              assert.throws(() => open(b, suite, key, iv, aad, sealed), isAuthFailure, label);
            }
          }
        }
        assert.equal(checked, cases);
      },
    });
  }
}

Deno.test({
  name: "OpenSSL and node:crypto give the same bytes for random messages, both ways, tags tampered",
  ignore: noOpenssl,
  fn() {
    const backends = [OPENSSL!, NODE_BACKEND] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...AEAD_SUITES),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 0, maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        (suite, key, nonce, aad, parts, flip, sealerIsOpenssl) => {
          const [sealer, opener] = sealerIsOpenssl ? backends : [backends[1], backends[0]];
          const joined = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
          let offset = 0;
          for (const part of parts) joined.set(part, (offset += part.length) - part.length);
          // Sealed in pieces by one backend, whole by the other: the same bytes.
          const outs = parts.map((p) => new Uint8Array(p.length));
          const tag = new Uint8Array(TAG_BYTES);
          sealer.sealInto(suite, key, nonce, aad, parts, outs, tag);
          const whole = seal(opener, suite, key, nonce, aad, joined);
          const pieces = new Uint8Array(whole.length);
          offset = 0;
          for (const out of [...outs, tag]) {
            pieces.set(out, offset);
            offset += out.length;
          }
          assert.deepEqual(pieces, whole);
          assert.deepEqual(open(opener, suite, key, nonce, aad, whole), joined);
          assert.deepEqual(open(sealer, suite, key, nonce, aad, whole), joined);
          // A flipped bit anywhere (ciphertext or tag) fails on both, and leaves no plaintext.
          const tampered = whole.slice();
          const at = flip % tampered.length;
          tampered[at]! ^= 1 << (flip % 8);
          for (const backend of backends) {
            const out = new Uint8Array(joined.length).fill(0xaa);
            assert.throws(
              () =>
                backend.openInto(
                  suite,
                  key,
                  nonce,
                  aad,
                  [tampered.subarray(0, joined.length)],
                  tampered.subarray(joined.length),
                  [out],
                ),
              isAuthFailure,
            );
            assert.ok(out.every((b) => b === 0), `${backend.info.name} left bytes in the output`);
          }
        },
      ),
      { numRuns: 300 },
    );
  },
});

Deno.test("sealing and opening in place give the same bytes as into separate arrays", () => {
  for (const backend of BACKENDS) {
    for (const suite of AEAD_SUITES) {
      const key = new Uint8Array(32).fill(7), nonce = new Uint8Array(12).fill(1);
      const aad = Uint8Array.of(1, 2, 3);
      const message = Uint8Array.from({ length: 70_000 }, (_, i) => i * 31);
      const expected = seal(backend, suite, key, nonce, aad, message);
      const buffer = message.slice();
      const tag = new Uint8Array(TAG_BYTES);
      backend.sealInto(suite, key, nonce, aad, [buffer], [buffer], tag);
      assert.deepEqual([...buffer, ...tag], [...expected], `${backend.info.name} ${suite}`);
      backend.openInto(suite, key, nonce, aad, [buffer], tag, [buffer]);
      assert.deepEqual(buffer, message);
    }
  }
});

Deno.test("the boundary refuses wrong lengths, mismatched pieces and overlapping buffers", () => {
  for (const backend of BACKENDS) {
    const suite = "chacha20-poly1305";
    const key = new Uint8Array(32), nonce = new Uint8Array(12), tag = new Uint8Array(16);
    const empty = new Uint8Array(0);
    const buf = new Uint8Array(64);
    const cases: [string, () => void, ErrorConstructor][] = [
      [
        "short key",
        () => backend.sealInto(suite, key.subarray(1), nonce, empty, [], [], tag),
        RangeError,
      ],
      [
        "long nonce",
        () => backend.sealInto(suite, key, new Uint8Array(13), empty, [], [], tag),
        RangeError,
      ],
      [
        "short tag",
        () => backend.sealInto(suite, key, nonce, empty, [], [], tag.subarray(1)),
        RangeError,
      ],
      [
        "unknown suite",
        () => backend.sealInto("rot13" as AeadSuite, key, nonce, empty, [], [], tag),
        RangeError,
      ],
      [
        "not bytes",
        () => backend.sealInto(suite, key, nonce, "x" as unknown as Uint8Array, [], [], tag),
        TypeError,
      ],
      [
        "output too short",
        () => backend.sealInto(suite, key, nonce, empty, [buf], [buf.subarray(1)], tag),
        RangeError,
      ],
      [
        "piece counts differ",
        () => backend.sealInto(suite, key, nonce, empty, [buf], [], tag),
        RangeError,
      ],
      [
        "output shifted over its input",
        () =>
          backend.sealInto(
            suite,
            key,
            nonce,
            empty,
            [buf.subarray(0, 32)],
            [buf.subarray(1, 33)],
            tag,
          ),
        RangeError,
      ],
      [
        "output over another input",
        () =>
          backend.sealInto(
            suite,
            key,
            nonce,
            empty,
            [buf.subarray(0, 16), buf.subarray(16, 32)],
            [buf.subarray(16, 32), new Uint8Array(16)],
            tag,
          ),
        RangeError,
      ],
      [
        "two outputs overlap",
        () =>
          backend.sealInto(
            suite,
            key,
            nonce,
            empty,
            [new Uint8Array(16), new Uint8Array(16)],
            [buf.subarray(0, 16), buf.subarray(8, 24)],
            tag,
          ),
        RangeError,
      ],
      [
        "output over the tag",
        () =>
          backend.sealInto(
            suite,
            key,
            nonce,
            empty,
            [new Uint8Array(16)],
            [buf.subarray(0, 16)],
            buf.subarray(8, 24),
          ),
        RangeError,
      ],
      [
        "output over the key",
        () =>
          backend.openInto(suite, buf.subarray(0, 32), nonce, empty, [new Uint8Array(8)], tag, [
            buf.subarray(24, 32),
          ]),
        RangeError,
      ],
    ];
    for (const [label, call, type] of cases) {
      assert.throws(call, type, `${backend.info.name}: ${label}`);
    }
  }
});

Deno.test("hardwareAes() reads AES and carry-less multiply from OpenSSL's CPU capability words", () => {
  assert.equal(hardwareAes("CPUINFO: OPENSSL_ia32cap=0xfffa3203078bffff:0x405fc6f1bf07ab"), true);
  // The same CPU with AES-NI masked (OPENSSL_ia32cap=~0x200000000000000).
  assert.equal(hardwareAes("CPUINFO: OPENSSL_ia32cap=0xfdfa3203078bffff:0x405fc6f1bf07ab"), false);
  // AES-NI without PCLMULQDQ: GHASH would run on tables.
  assert.equal(hardwareAes("CPUINFO: OPENSSL_ia32cap=0xfffa3201078bffff:0x0"), false);
  assert.equal(hardwareAes("CPUINFO: OPENSSL_armcap=0x3d"), true);
  assert.equal(hardwareAes("CPUINFO: OPENSSL_armcap=0x1"), false);
  assert.equal(hardwareAes(""), false);
});

Deno.test("preferredSuites() offers AES-256-GCM only with libcrypto on hardware AES", () => {
  assert.deepEqual(preferredSuites(NODE_BACKEND), ["chacha20-poly1305"]);
  const fake = (hardwareAes: boolean) =>
    new AeadBackend({ seal() {}, open: () => false }, { name: "openssl", detail: "", hardwareAes });
  assert.deepEqual(preferredSuites(fake(true)), ["aes-256-gcm", "chacha20-poly1305"]);
  assert.deepEqual(preferredSuites(fake(false)), ["chacha20-poly1305"]);
});

Deno.test({
  name: "with --allow-ffi the process runs OpenSSL",
  ignore: noOpenssl,
  fn() {
    assert.equal(aeadBackend().info.name, "openssl");
    assert.match(aeadBackend().info.detail, /^OpenSSL 3\./);
  },
});

Deno.test("without --allow-ffi, or with SSP_LIBCRYPTO=none or a missing library, node:crypto runs", async () => {
  const module = new URL("./aead_backend.ts", import.meta.url).href;
  const script = `import { aeadBackend, TAG_BYTES } from "${module}";
    const b = aeadBackend();
    const tag = new Uint8Array(TAG_BYTES);
    b.sealInto("chacha20-poly1305", new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), [], [], tag);
    console.log(JSON.stringify(b.info));`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  const run = async (flags: string[], env: Record<string, string> = {}) => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-prompt", "--allow-read", "--allow-env", ...flags, file],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    return JSON.parse(new TextDecoder().decode(stdout));
  };
  try {
    const denied = await run([]);
    assert.equal(denied.name, "node");
    assert.match(denied.detail, /no --allow-ffi permission for libcrypto\.so\.3/);
    const none = await run(["--allow-ffi"], { SSP_LIBCRYPTO: "none" });
    assert.equal(none.name, "node");
    assert.match(none.detail, /SSP_LIBCRYPTO=none/);
    const missing = await run(["--allow-ffi"], { SSP_LIBCRYPTO: "/nonexistent/libcrypto.so.3" });
    assert.equal(missing.name, "node");
    assert.match(missing.detail, /cannot load \/nonexistent\/libcrypto\.so\.3/);
    if (!noOpenssl) assert.equal((await run(["--allow-ffi"])).name, "openssl");
  } finally {
    await Deno.remove(file);
  }
});
