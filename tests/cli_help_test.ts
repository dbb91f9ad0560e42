/** The client's help as people reach for it: `help COMMAND`, examples, and typos. */
import assert from "node:assert/strict";
import { run } from "./programs.ts";

Deno.test("`help send` shows the help of send only", async () => {
  const help = await run("client.ts", ["help", "send"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: ssp-client send \[options\] <text\.\.\.>/);
  assert.doesNotMatch(help.stdout, /send-file/);
});

Deno.test("the program's help ends with examples", async () => {
  const help = await run("client.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:\n {2}ssp-client --phone \+15551234567 /);
});

Deno.test("a mistyped command gets a short answer with what was meant", async () => {
  const typo = await run("client.ts", ["sned", "--to", "+15551234567", "hi"]);
  assert.equal(typo.code, 1);
  assert.equal(typo.stdout, "");
  assert.match(typo.stderr, /unknown command "sned"/);
  assert.match(typo.stderr, /did you mean "send"\?/);
  assert.ok(typo.stderr.trim().split("\n").length <= 2, typo.stderr);
  const unknownTopic = await run("client.ts", ["help", "frobnicate"]);
  assert.equal(unknownTopic.code, 1);
  assert.doesNotMatch(unknownTopic.stderr, /did you mean/);
  assert.match(unknownTopic.stderr, /commands: register, send/);
});
