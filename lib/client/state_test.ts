import assert from "node:assert/strict";
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
