/**
 * The README and the protocol spec say what the code does: their example
 * phone numbers register, their client commands do not echo message text,
 * and the spec's bounds are the decoders' bounds.
 */
import assert from "node:assert/strict";
import { CONTENT_DECODER_LIMITS } from "../lib/e2e/mod.ts";
import { isE164 } from "../lib/phone.ts";
import { requestId } from "../lib/protocol/mod.ts";
import { run } from "./programs.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const SPEC = await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url));

/** Every `+<digits>` not glued to a word or bracket before it (so not `e+1` or `(x)+1`). */
function phoneNumbersIn(text: string): string[] {
  return [...new Set(text.match(/(?<![\w)\]])\+\d+/g) ?? [])];
}

Deno.test("every phone number in README.md is one the server registers", () => {
  const numbers = phoneNumbersIn(README);
  assert.ok(numbers.length >= 2, "the README shows example numbers");
  assert.deepEqual(numbers.filter((n) => !isE164(n)), [], "refused as invalid_phone");
});

Deno.test("docs/protocol.md's phone numbers register, except §6.1's examples of invalid ones", () => {
  const section = SPEC.slice(SPEC.indexOf("### §6.1"), SPEC.indexOf("### §6.2"));
  const sentence = section.match(/So\s(.*?)\sare\svalid,\swhile\s(.*?)\sare\snot\./s);
  assert.ok(sentence, "§6.1 gives examples of valid and invalid numbers");
  const [valid, invalid] = [phoneNumbersIn(sentence[1]!), phoneNumbersIn(sentence[2]!)];
  assert.ok(valid.length >= 2 && invalid.length >= 2);
  for (const n of invalid) assert.ok(!isE164(n), `§6.1 says ${n} is invalid`);
  const rest = phoneNumbersIn(SPEC).filter((n) => !invalid.includes(n));
  assert.ok(rest.length >= 4);
  assert.deepEqual(rest.filter((n) => !isE164(n)), [], "refused as invalid_phone");
});

Deno.test("the README's client and server commands run `deno task -q`, which prints no command line", () => {
  const loud = README.split("\n").filter((line) => /\btask (client|server)\b/.test(line));
  assert.deepEqual(loud, [], "use `deno task -q client …` so message text is not echoed");
  assert.match(README, /npx -y deno@2\.9\.6 task -q client/);
});

Deno.test("docs/protocol.md gives every request id the range the decoder accepts: 0 … 2^32 − 1", () => {
  const idRows = SPEC.split("\n").filter((line) =>
    /^\| `id` +\|/.test(line) || /\| `id` +\| uint/.test(line)
  );
  assert.ok(idRows.length >= 15, `found ${idRows.length} id rows`);
  for (const row of idRows) assert.ok(row.includes("0 … 2^32 − 1"), row);
  assert.match(SPEC, /ping\/pong id +\| 0 … 2\^32 − 1/);
  assert.match(SPEC, /request id +\| 0 … 2\^32 − 1/);
  assert.ok(requestId.safeParse(0).success);
  assert.ok(requestId.safeParse(2 ** 32 - 1).success);
  assert.ok(!requestId.safeParse(2 ** 32).success);
});

Deno.test("Appendix B's content decoder limits are the content decoder's", () => {
  const row = SPEC.split("\n").find((line) => line.startsWith("| content decoder "));
  assert.ok(row, "Appendix B has a content decoder row");
  const number = (pattern: RegExp) => Number(row.match(pattern)?.[1]?.replaceAll(" ", ""));
  assert.equal(number(/str ≤ ([\d ]+) B/), CONTENT_DECODER_LIMITS.maxStrLength);
  assert.equal(number(/bin ≤ (\d+) B/), CONTENT_DECODER_LIMITS.maxBinLength);
  assert.equal(number(/arrays ≤ (\d+)/), CONTENT_DECODER_LIMITS.maxArrayLength);
  assert.equal(number(/maps ≤ (\d+) entries/), CONTENT_DECODER_LIMITS.maxMapLength);
  assert.equal(CONTENT_DECODER_LIMITS.maxExtLength, 0);
  assert.match(row, /no ext/);
});

Deno.test("§6.1 names the libphonenumber-js version deno.json pins", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const version = String(config.imports["libphonenumber-js"]).split("@").at(-1)!;
  const section = SPEC.slice(SPEC.indexOf("### §6.1"), SPEC.indexOf("### §6.2"));
  assert.ok(section.includes(`libphonenumber-js **${version}**`), `§6.1 should name ${version}`);
});

Deno.test("every ssp-server flag in --help has a row in the README's flag table", async () => {
  const help = await run("server.ts", ["--help"]);
  assert.equal(help.code, 0, help.stderr);
  const flags = [...new Set(help.stdout.match(/(?<=^\s*)--[a-z][a-z-]+/gm) ?? [])]
    .filter((flag) => flag !== "--help" && flag !== "--version");
  assert.ok(flags.length > 20, `only ${flags.length} flags found in --help`);
  const rowOf = (text: string, flag: string) => new RegExp(`^\\| \`${flag}[ \`]`, "m").test(text);
  assert.deepEqual(flags.filter((flag) => !rowOf(README, flag)), [], "missing from README.md");
});
