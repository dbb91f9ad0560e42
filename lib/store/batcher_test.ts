import assert from "node:assert/strict";
import { StorageError } from "../errors.ts";
import { GroupCommitter } from "./batcher.ts";

function double(items: number[]): number[] {
  return items.map((n) => n * 2);
}

Deno.test("GroupCommitter flushes submits made in the same macrotask together", async () => {
  const batches: number[][] = [];
  const committer = new GroupCommitter((items: number[]) => {
    batches.push(items);
    return double(items);
  });
  const results = await Promise.all([
    committer.submit([1, 2]),
    committer.submit([3]),
    committer.submit([4, 5, 6]),
  ]);
  assert.deepEqual(results, [[2, 4], [6], [8, 10, 12]]);
  assert.deepEqual(batches, [[1, 2, 3, 4, 5, 6]]);
  assert.equal(committer.flushes, 1);
  assert.equal(committer.flushedItems, 6);
});

Deno.test("GroupCommitter collects submits that arrive during a flush into the next one", async () => {
  const batches: number[][] = [];
  const flushing = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  const committer = new GroupCommitter(async (items: number[]) => {
    batches.push(items);
    if (batches.length === 1) {
      flushing.resolve();
      await gate.promise;
    }
    return double(items);
  });
  const first = committer.submit([1]);
  await flushing.promise; // the first flush has begun and is held
  const later = [committer.submit([2]), committer.submit([3]), committer.submit([4])];
  gate.resolve();
  assert.deepEqual(await first, [2]);
  assert.deepEqual(await Promise.all(later), [[4], [6], [8]]);
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
});

Deno.test("GroupCommitter batches callers that resubmit after each ack", async () => {
  const committer = new GroupCommitter(double);
  const rounds = 10;
  const workers = 20;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; i < rounds; i++) {
        assert.deepEqual(await committer.submit([w * 100 + i]), [(w * 100 + i) * 2]);
      }
    }),
  );
  assert.equal(committer.flushes, rounds);
});

Deno.test("GroupCommitter rejects every caller of a failed batch with a StorageError", async () => {
  const cause = new Error("disk full");
  let calls = 0;
  const committer = new GroupCommitter((items: number[]) => {
    calls++;
    if (calls === 1) throw cause;
    return double(items);
  });
  const failed = await Promise.allSettled([committer.submit([1]), committer.submit([2])]);
  for (const outcome of failed) {
    assert.equal(outcome.status, "rejected");
    const error = (outcome as PromiseRejectedResult).reason;
    assert.ok(error instanceof StorageError);
    assert.equal(error.code, "storage_failed");
    assert.equal(error.cause, cause);
    assert.match(error.message, /disk full/);
  }
  assert.deepEqual(await committer.submit([3]), [6]);
});

Deno.test("GroupCommitter passes a StorageError from the flush through unchanged", async () => {
  const original = new StorageError("storage_failed", "Cannot append envelopes: busy");
  const committer = new GroupCommitter<number, number>(() => Promise.reject(original));
  await assert.rejects(committer.submit([1]), (error) => error === original);
});

Deno.test("GroupCommitter fails a batch whose flush returns the wrong number of results", async () => {
  const committer = new GroupCommitter((items: number[]) => items.slice(1));
  await assert.rejects(committer.submit([1, 2]), (error) => {
    assert.ok(error instanceof StorageError);
    assert.match(error.message, /1 results for 2 items/);
    return true;
  });
});

Deno.test("GroupCommitter never puts more than maxBatch items in a flush, except one big submit", async () => {
  const sizes: number[] = [];
  const committer = new GroupCommitter((items: number[]) => {
    sizes.push(items.length);
    return double(items);
  }, { maxBatch: 3 });
  const results = await Promise.all([
    committer.submit([1, 2]),
    committer.submit([3, 4]),
    committer.submit([5, 6, 7, 8, 9]),
    committer.submit([10]),
  ]);
  assert.deepEqual(results, [[2, 4], [6, 8], [10, 12, 14, 16, 18], [20]]);
  assert.deepEqual(sizes, [2, 2, 5, 1]);
});

Deno.test("GroupCommitter resolves an empty submit without flushing", async () => {
  const committer = new GroupCommitter(double);
  assert.deepEqual(await committer.submit([]), []);
  assert.equal(committer.flushes, 0);
});

Deno.test("GroupCommitter.close() flushes queued submits, then refuses new ones", async () => {
  const committer = new GroupCommitter(async (items: number[]) => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    return double(items);
  });
  const queued = committer.submit([1]);
  await committer.close();
  assert.deepEqual(await queued, [2]);
  assert.equal(committer.pending, 0);
  await assert.rejects(committer.submit([2]), StorageError);
});

Deno.test("GroupCommitter rejects a maxBatch below 1", () => {
  assert.throws(() => new GroupCommitter(double, { maxBatch: 0 }), RangeError);
});

Deno.test("GroupCommitter.close() right after a submit to a synchronous flush returns", async () => {
  const committer = new GroupCommitter(double);
  const queued = committer.submit([1]);
  await committer.close();
  assert.deepEqual(await queued, [2]);
  assert.equal(committer.flushes, 1);
});
