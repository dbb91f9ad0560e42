import assert from "node:assert/strict";
import { SspError } from "./errors.ts";
import { EXAMPLE_PHONE, isE164, normalizePhone } from "./phone.ts";

Deno.test("normalizePhone() turns international and national formats into E.164", () => {
  assert.equal(normalizePhone("+1 (201) 555-0123"), "+12015550123");
  assert.equal(normalizePhone("201-555-0123", "US"), "+12015550123");
  assert.equal(normalizePhone("020 7946 0018", "gb"), "+442079460018");
  assert.equal(normalizePhone("+91 98765 43210"), "+919876543210");
});

Deno.test("normalizePhone() refuses invalid numbers with what to do", () => {
  for (
    const [input, region] of [["12345", undefined], ["+1 555", undefined], ["hello", "US"], [
      "",
      undefined,
    ]]
  ) {
    assert.throws(() => normalizePhone(input!, region), (e: unknown) => {
      assert.ok(e instanceof SspError);
      assert.equal(e.code, "invalid_phone");
      assert.ok(e.hint);
      return true;
    });
  }
  assert.throws(() => normalizePhone("2015550123"), (e: unknown) => {
    assert.match((e as SspError).hint ?? "", /--region/);
    return true;
  });
});

Deno.test("isE164() accepts only valid numbers already in E.164 form", () => {
  assert.ok(isE164("+12015550123"));
  assert.ok(!isE164("+1 201 555 0123"));
  assert.ok(!isE164("12015550123"));
  assert.ok(!isE164("+1201555012"));
});

Deno.test("EXAMPLE_PHONE, the number help texts and hints show, is valid", () => {
  assert.ok(isE164(EXAMPLE_PHONE));
});
