import assert from "node:assert/strict";
import { fromHex } from "../bytes.ts";
import {
  decodeDhParamsDer,
  decodeDhParamsPem,
  encodeDhParamsDer,
  encodeDhParamsPem,
} from "./dhparam.ts";
import { DhError } from "../errors.ts";
import { FFDHE2048 } from "./ffdhe.ts";
import { bitLength } from "./primes.ts";

const fixture = new URL("../../testdata/dh2048.pem", import.meta.url);

function assertDhError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DhError, `expected DhError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("decodeDhParamsPem() reads the openssl-generated fixture and re-encodes it byte for byte", async () => {
  const text = await Deno.readTextFile(fixture);
  const { p, g } = decodeDhParamsPem(text);
  assert.equal(bitLength(p), 2048);
  assert.equal(g, 2n);
  assert.equal(encodeDhParamsPem(p, g), text);
});

Deno.test("encodeDhParamsDer() produces the expected bytes for small and high-bit integers", () => {
  assert.deepEqual(encodeDhParamsDer(23n, 5n), fromHex("3006020117020105"));
  // 0x80 needs a leading zero byte to stay positive.
  assert.deepEqual(encodeDhParamsDer(0x80n, 2n), fromHex("300702020080020102"));
  assert.throws(() => encodeDhParamsDer(0n, 2n), RangeError);
  assert.throws(() => encodeDhParamsDer(23n, -1n), RangeError);
});

Deno.test("decodeDhParamsDer() round-trips the RFC 7919 ffdhe2048 group", () => {
  const der = encodeDhParamsDer(FFDHE2048.p, FFDHE2048.g);
  assert.equal(der.length, 4 + 4 + 257 + 3); // SEQUENCE, INTEGER(0x00 ‖ p), INTEGER(2)
  assert.deepEqual(decodeDhParamsDer(der), { p: FFDHE2048.p, g: 2n });
});

Deno.test("decodeDhParamsDer() rejects every truncation of a valid encoding", () => {
  const der = encodeDhParamsDer(FFDHE2048.p, FFDHE2048.g);
  for (let n = 0; n < der.length; n++) {
    assertDhError(() => decodeDhParamsDer(der.subarray(0, n)), "dhparam_bad_der", /malformed/);
  }
});

Deno.test("decodeDhParamsDer() rejects non-DER and structurally wrong inputs", () => {
  const cases: [string, RegExp][] = [
    ["3006020117020105" + "00", /unexpected bytes follow/],
    ["3106020117020105", /expected the SEQUENCE/],
    ["3006030117020105", /expected the prime/],
    ["3080020117020105", /indefinite length/],
    ["308106020117020105", /not minimal/],
    ["30830000060201170201050000", /3-byte length field/],
    ["300702020017020105", /redundant leading zero/],
    ["3006020197020105", /prime is negative/],
    ["30050200020105", /prime is empty/],
    ["3006020100020105", /prime is zero/],
    ["3006020117020100", /generator is zero/],
    ["3009020117020105020140", /privateValueLength/],
    ["3006020117020205", /generator claims 2 bytes but only 1 remain/],
    ["3003020117", /generator is missing/],
  ];
  for (const [hex, message] of cases) {
    assertDhError(() => decodeDhParamsDer(fromHex(hex)), "dhparam_bad_der", message);
  }
});

Deno.test("decodeDhParamsPem() ignores text around the block, as openssl -text output has", () => {
  const pem = encodeDhParamsPem(23n, 5n);
  assert.deepEqual(decodeDhParamsPem(`    DH Parameters: (5 bit)\n${pem}\n`), { p: 23n, g: 5n });
  assert.deepEqual(decodeDhParamsPem(pem.replaceAll("\n", "\r\n")), { p: 23n, g: 5n });
});

Deno.test("decodeDhParamsPem() rejects missing, repeated, unterminated and garbled blocks", () => {
  const pem = encodeDhParamsPem(23n, 5n);
  const cases: [string, RegExp][] = [
    ["", /no `-----BEGIN DH PARAMETERS-----`/],
    [pem.replaceAll("DH PARAMETERS", "X9.42 DH PARAMETERS"), /X9\.42/],
    [pem + pem, /more than one/],
    [pem.replace("-----END DH PARAMETERS-----", ""), /no END line/],
    [pem.replace("MAYCARcCAQU=", "MAYCARcCAQU"), /not valid base64/],
    [pem.replace("MAYCARcCAQU=", "MAY*ARcCAQU="), /not valid base64/],
    ["-----BEGIN DH PARAMETERS-----\n-----END DH PARAMETERS-----\n", /not valid base64/],
  ];
  for (const [text, message] of cases) {
    assertDhError(() => decodeDhParamsPem(text), "dhparam_bad_pem", message);
  }
  assertDhError(
    () => decodeDhParamsPem(pem.replace("MAYCARcCAQU=", "MAYCARcCAQ==")),
    "dhparam_bad_der",
    /malformed/,
  );
});

async function hasOpenssl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "encodeDhParamsPem() output is read back by `openssl dhparam`",
  ignore: !(await hasOpenssl()),
  fn: async () => {
    // A custom (non-RFC 7919) prime, so that openssl prints P in hex instead of a group name.
    const { p, g } = decodeDhParamsPem(await Deno.readTextFile(fixture));
    const child = new Deno.Command("openssl", {
      args: ["dhparam", "-noout", "-text"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(encodeDhParamsPem(p, g)));
    await writer.close();
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const hex = text.split(/P:\s*/)[1]?.split(/G:/)[0]?.replace(/[\s:]/g, "");
    assert.equal(BigInt("0x" + hex), p, text);
    assert.match(text, /G:\s*2 \(0x2\)/);
  },
});
