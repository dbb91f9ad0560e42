import assert from "node:assert/strict";
import { mutateBytes, mutateMessage, Prng } from "./mutate.ts";

Deno.test("Prng: one seed gives one sequence, another seed another", () => {
  const draw = (seed: number) => {
    const prng = new Prng(seed);
    return Array.from({ length: 8 }, () => prng.next());
  };
  const a = new Prng(42);
  const b = new Prng(42);
  const first = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(Array.from({ length: 100 }, () => b.next()), first);
  assert.notDeepEqual(draw(43), draw(42));
  assert.ok(first.every((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32));
});

Deno.test("mutateBytes() and mutateMessage() replay from a seed and leave their input alone", () => {
  const bytes = new TextEncoder().encode("a frame body of some length, to be mutated");
  const message = { t: "ping", id: 7, data: new Uint8Array([1, 2, 3]) };
  const run = (seed: number) => {
    const prng = new Prng(seed);
    return Array.from(
      { length: 200 },
      () => [mutateBytes(prng, bytes), mutateMessage(prng, message)],
    );
  };
  assert.deepEqual(run(9), run(9));
  assert.deepEqual(bytes, new TextEncoder().encode("a frame body of some length, to be mutated"));
  assert.deepEqual(message, { t: "ping", id: 7, data: new Uint8Array([1, 2, 3]) });
  const changed = run(10).filter(([b]) => !equal(b as Uint8Array, bytes)).length;
  assert.ok(changed > 150, `${changed} of 200 byte mutations changed something`);
});

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
