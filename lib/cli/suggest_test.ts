import assert from "node:assert/strict";
import { closest, distance } from "./suggest.ts";

Deno.test("closest() suggests the command a typo meant, and nothing for unrelated words", () => {
  const commands = ["send", "send-file", "history", "listen", "files", "get-file"];
  assert.equal(closest("sned", commands), "send");
  assert.equal(closest("histroy", commands), "history");
  assert.equal(closest("lis", commands), "listen");
  assert.equal(closest("frobnicate", commands), undefined);
  assert.equal(distance("sned", "send"), 1);
  assert.equal(distance("", "abc"), 3);
});
