/**
 * Several MongoStores writing to one database: seqs are claimed by insert
 * (see MongoStore), so no seq is lost, reused or skipped. The tests that
 * race run on FerretDB's SQLite and PostgreSQL backends (they differ in
 * locking), or on the MongoDB at `SSP_TEST_MONGO_URL`.
 */
import assert from "node:assert/strict";
import { MongoStore } from "./mongo.ts";
import type { StoredEnvelope } from "./types.ts";
import { BOB, envelope, url, withStore, writerBackends } from "./_mongo_testing.ts";

const backends = await writerBackends();

Deno.test("MongoStore refuses to reuse a seq another writer took, and retries", async () => {
  await withStore(async (first, dbName) => {
    // The unique _id must turn two writers into fresh seqs, not lost or merged envelopes.
    const second = await MongoStore.connect(url, { dbName });
    try {
      const [a] = await first.appendEnvelopes([envelope("a")]);
      const [b] = await second.appendEnvelopes([envelope("b")]);
      const [c] = await first.appendEnvelopes([envelope("c")]);
      assert.deepEqual([a!.seq, b!.seq, c!.seq], [1, 2, 3]);
      assert.deepEqual(
        (await first.mailbox(BOB, 0, 10)).map((e) => e.clientId),
        ["a", "b", "c"],
      );
    } finally {
      await second.close();
    }
  });
});

for (const [backend, server] of backends) {
  Deno.test(`${backend}: a batch of 250 with a stored duplicate in the middle is written without gaps or false duplicates`, async () => {
    // FerretDB 1.24 goes on after a duplicate key with its next internal batch
    // of 100 documents, even in an "ordered" insertMany.
    await withStore(
      async (store) => {
        const [old] = await store.appendEnvelopes([envelope("m50")]);
        const batch = Array.from({ length: 250 }, (_, i) => envelope(`m${i}`));
        const results = await store.appendEnvelopes(batch);
        results.forEach((result, i) => {
          if (i === 50) assert.deepEqual(result, { ...old!, duplicate: true });
          else assert.equal(result.duplicate, false, `m${i} reported as a duplicate`);
        });
        const stored = await store.mailbox(BOB, 0, 1000);
        assert.deepEqual(stored.map((e) => e.seq), Array.from({ length: 250 }, (_, i) => i + 1));
        assert.deepEqual(
          stored.slice(1).map((e) => e.clientId),
          batch.map((e) => e.clientId).filter((id) => id !== "m50"),
        );
      },
      {},
      server,
    );
  });

  Deno.test(`${backend}: three MongoStores on one database append concurrently to one mailbox: no gap, no duplicate, order kept, and a reader never skips`, async () => {
    await withStore(
      async (first, dbName) => {
        const stores = [first, await MongoStore.connect(server, { dbName })];
        stores.push(await MongoStore.connect(server, { dbName }));
        try {
          const SENDERS_PER_STORE = 6;
          const MESSAGES = 25;
          const total = stores.length * SENDERS_PER_STORE * MESSAGES;
          // A reader that delivers the way the server's mailbox pump does: read
          // after the last seq delivered, and never look below it again.
          const delivered: StoredEnvelope[] = [];
          let reading = true;
          let failed = false;
          const reader = (async () => {
            const deadline = Date.now() + 60_000;
            while (reading || delivered.length < total) {
              if (!reading && failed) return;
              if (Date.now() > deadline) throw new Error(`reader saw ${delivered.length}/${total}`);
              const after = delivered.at(-1)?.seq ?? 0;
              const page = await first.mailbox(BOB, after, 64);
              delivered.push(...page);
              if (page.length === 0) await new Promise((r) => setTimeout(r, reading ? 1 : 20));
            }
          })();
          // Each sender awaits the ack of one message before it sends the next.
          const acks = new Map<string, number>();
          const sending = Promise.all(
            stores.flatMap((store, s) =>
              Array.from({ length: SENDERS_PER_STORE }, async (_, k) => {
                for (let m = 0; m < MESSAGES; m++) {
                  const id = `s${s}-k${k}-m${m}`;
                  const [ack] = await store.appendEnvelopes([envelope(id)]);
                  assert.equal(ack!.duplicate, false);
                  acks.set(id, ack!.seq);
                }
              })
            ),
          );
          try {
            await sending;
          } catch (error) {
            // Stop the reader before the stores close under it.
            failed = true;
            reading = false;
            await reader.catch(() => {});
            throw error;
          }
          reading = false;
          await reader;

          // Seqs 1..total, each once, and each is the seq its sender was told.
          assert.deepEqual(
            delivered.map((e) => e.seq),
            Array.from({ length: total }, (_, i) => i + 1),
          );
          for (const e of delivered) assert.equal(acks.get(e.clientId), e.seq, e.clientId);
          // Every sender's messages in the order it sent them.
          for (let s = 0; s < stores.length; s++) {
            for (let k = 0; k < SENDERS_PER_STORE; k++) {
              const mine = delivered.filter((e) => e.clientId.startsWith(`s${s}-k${k}-`));
              assert.deepEqual(
                mine.map((e) => e.clientId),
                Array.from({ length: MESSAGES }, (_, m) => `s${s}-k${k}-m${m}`),
              );
            }
          }
          const collisions = stores.reduce((n, store) => n + store.seqCollisions, 0);
          assert.ok(
            collisions > 0,
            "the writers never collided: the test did not exercise the race",
          );
        } finally {
          for (const store of stores.slice(1)) await store.close();
        }
      },
      {},
      server,
    );
  });
}
