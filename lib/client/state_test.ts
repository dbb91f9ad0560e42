import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ClientState } from "./state.ts";

Deno.test("markSeen() tells a first delivery, a redelivery at the same seq and a replay apart", async () => {
  const dir = await Deno.makeTempDir();
  const state = await ClientState.open(dir, "+12015550101");
  try {
    assert.equal(state.markSeen("+12015550102", "ab".repeat(16), 7), "new");
    assert.equal(state.markSeen("+12015550102", "ab".repeat(16), 7), "redelivery");
    assert.equal(state.markSeen("+12015550102", "ab".repeat(16), 9), "replay");
    assert.equal(state.markSeen("+12015550103", "ab".repeat(16), 9), "new", "ids are per sender");
  } finally {
    state.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pinned keys survive reopening, and a changed key is recorded beside the pin", async () => {
  const dir = await Deno.makeTempDir();
  const key = (b: number) => new Uint8Array(32).fill(b);
  let state = await ClientState.open(dir, "+12015550101");
  state.pin("+12015550102", key(1), key(2));
  state.close();
  state = await ClientState.open(dir, "+12015550101");
  try {
    assert.equal(state.contact("+12015550102")?.status, "trusted");
    state.markChanged("+12015550102", key(3), key(4));
    const changed = state.contact("+12015550102")!;
    assert.equal(changed.status, "changed");
    assert.deepEqual(changed.signingKey, key(1), "the pin itself is unchanged");
    assert.deepEqual(changed.pendingSigningKey, key(3));
  } finally {
    state.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a forgotten upload leaves neither its path nor its key in the database file", async () => {
  const dir = await Deno.makeTempDir();
  const path = "/home/alice/secret plans/merger-with-acme.pdf";
  const key = crypto.getRandomValues(new Uint8Array(32));
  const state = await ClientState.open(dir, "+12015550101");
  state.pin("+12015550102", new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
  state.saveUpload(path, { fileId: "ab".repeat(16), messageId: "cd".repeat(16), key });
  state.forgetUpload(path);
  state.close();
  try {
    const bytes = await readAll(dir);
    assert.equal(bytes.indexOf("merger-with-acme"), -1, "path");
    assert.equal(bytes.indexOf(key), -1, "file key");
    assert.notEqual(bytes.indexOf(new Uint8Array(32).fill(2)), -1, "kept rows are still there");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a forgotten upload leaves no trace in the database files while they stay open", async () => {
  const dir = await Deno.makeTempDir();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const state = await ClientState.open(dir, "+12015550101");
  try {
    state.pin("+12015550102", new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    state.saveUpload("/tmp/board-minutes.txt", {
      fileId: "ab".repeat(16),
      messageId: "cd".repeat(16),
      key,
    });
    state.forgetUpload("/tmp/board-minutes.txt");
    const bytes = await readAll(dir);
    assert.equal(bytes.indexOf("board-minutes"), -1, "path");
    assert.equal(bytes.indexOf(key), -1, "file key");
  } finally {
    state.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every file of the database (main file, and a WAL or journal if one is left), concatenated. */
async function readAll(dir: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const entry of Deno.readDir(dir)) {
    parts.push(await Deno.readFile(`${dir}/${entry.name}`));
  }
  return Buffer.concat(parts);
}
