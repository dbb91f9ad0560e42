import assert from "node:assert/strict";
import { KeyBatches } from "./key_batches.ts";

Deno.test("items that arrive while a key's batch runs go together as its next batch, in order", async () => {
  const batches: string[][] = [];
  let release!: () => void;
  let held = new Promise<void>((resolve) => release = resolve);
  const batcher = new KeyBatches<string, string>(async (key, items) => {
    batches.push([key, ...items]);
    await held;
    return items.map((item) => item.toUpperCase());
  });
  const first = batcher.submit("a", "x");
  const rest = ["y", "z"].map((item) => batcher.submit("a", item));
  const other = batcher.submit("b", "w"); // another key does not wait for "a"
  assert.deepEqual(batches, [["a", "x"], ["b", "w"]]);
  release();
  held = Promise.resolve();
  assert.deepEqual(await Promise.all([first, ...rest, other]), ["X", "Y", "Z", "W"]);
  assert.deepEqual(batches, [["a", "x"], ["b", "w"], ["a", "y", "z"]]);
});

Deno.test("a failed batch rejects each of its items, and the next batch still runs", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const batcher = new KeyBatches<number, number>(async (_key, items) => {
    if (items[0] === 1) await held;
    if (items.includes(2)) throw new Error("store down");
    return items;
  });
  const first = batcher.submit("k", 1);
  const failed = [batcher.submit("k", 2), batcher.submit("k", 3)]; // one batch, after the first
  release();
  assert.equal(await first, 1);
  await assert.rejects(failed[0]!, /store down/);
  await assert.rejects(failed[1]!, /store down/);
  assert.equal(await batcher.submit("k", 4), 4);
});
