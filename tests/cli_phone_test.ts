/**
 * A mistyped phone number is reported at once, with a number that works as
 * the example, before the client asks for a password or connects anywhere.
 */
import assert from "node:assert/strict";
import { EXAMPLE_PHONE } from "../lib/phone.ts";
import { tempDir } from "./harness.ts";
import { run } from "./programs.ts";

// Nothing listens on port 9 of 127.0.0.1 here (discard): the check must come before connecting.
const NOWHERE = { SSP_SERVER: "127.0.0.1:9" };

Deno.test("the interactive client refuses an invalid number before asking for the password", async () => {
  const dir = await tempDir("ssp-client-");
  try {
    // No SSP_PASSWORD and no terminal: asking for the password would fail with "no terminal".
    const session = await run("client.ts", ["--phone", "+15551234567", "--data", dir], NOWHERE);
    assert.equal(session.code, 1, session.stderr);
    assert.match(session.stderr, /error: "\+15551234567" is not a valid phone number/);
    assert.ok(session.stderr.includes(`hint: check the digits`), session.stderr);
    assert.ok(session.stderr.includes(EXAMPLE_PHONE), session.stderr);
    assert.doesNotMatch(session.stderr, /password/i);

    const national = await run("client.ts", ["--phone", "2025550123", "--data", dir], NOWHERE);
    assert.equal(national.code, 1);
    assert.match(national.stderr, /hint: write it with the country code .* or pass --region/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every account command checks the number before asking for a password", async () => {
  const dir = await tempDir("ssp-client-");
  try {
    for (
      const args of [
        ["register"],
        ["send", "--to", EXAMPLE_PHONE, "hello"],
        ["listen"],
        ["passwd"],
      ]
    ) {
      // No password source and no terminal, as above.
      const result = await run(
        "client.ts",
        [...args, "--phone", "+1555", "--data", dir, "--json"],
        NOWHERE,
      );
      assert.equal(result.code, 1, args.join(" "));
      assert.equal(JSON.parse(result.stdout).error.code, "invalid_phone", args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
