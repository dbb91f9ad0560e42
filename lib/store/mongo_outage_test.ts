/**
 * MongoStore when the database fails under it: killed (SIGKILL, then
 * restarted) or frozen (SIGSTOP: connections open, no answers). Both need a
 * FerretDB this file started; against `SSP_TEST_MONGO_URL` they are left out.
 */
import assert from "node:assert/strict";
import { StorageError } from "../errors.ts";
import { until, within } from "../testing/mod.ts";
import { BOB, envelope, ferret, withStore } from "./_mongo_testing.ts";

Deno.test({
  name: "MongoStore survives the database going away: rejects during the outage, loses " +
    "and duplicates nothing acknowledged, and recovers by itself",
  // Restarting FerretDB starts a process (and its pipes) that outlives this test.
  sanitizeOps: false,
  sanitizeResources: false,
  // Needs a server this file can stop; a URL from SSP_TEST_MONGO_URL is not one.
  ignore: ferret === null,
  async fn() {
    await withStore(async (store) => {
      const acked = new Map<string, number>();
      const failed = new Set<string>();
      let slowestFailureMs = 0;
      let phase: "before" | "outage" | "after" = "before";
      let acksAfter = 0;
      let running = true;
      const worker = async (w: number) => {
        for (let i = 0; running; i++) {
          const clientId = `w${w}-${i}`;
          const sent = performance.now();
          try {
            const [ack] = await store.appendEnvelopes([envelope(clientId)]);
            assert.equal(ack!.duplicate, false);
            acked.set(clientId, ack!.seq);
            if (phase === "after") acksAfter++;
          } catch (error) {
            assert.ok(error instanceof StorageError, `not a StorageError: ${error}`);
            assert.match(error.code, /^storage_(unavailable|failed)$/);
            failed.add(clientId);
            slowestFailureMs = Math.max(slowestFailureMs, performance.now() - sent);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      const waitFor = (what: string, done: () => boolean) =>
        until(done, { what, deadlineMs: 30_000 });

      try {
        await waitFor("acks before the outage", () => acked.size >= 200);
        await ferret!.halt(); // SIGKILL: a crash, mid-batch
        phase = "outage";
        const failedBefore = failed.size;
        await Promise.all([
          waitFor("failures during the outage", () => failed.size >= failedBefore + 8),
          assert.rejects(store.getDeliveredSeq(BOB), StorageError),
          assert.rejects(store.mailbox(BOB, 0, 10), StorageError),
          assert.rejects(store.setDeliveredSeq(BOB, 1), StorageError),
        ]);
        // Batches are flushed one at a time, so once appends fail, every
        // batch sent before the crash has settled: no ack may follow.
        const ackedDuringOutage = acked.size;
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(
          acked.size,
          ackedDuringOutage,
          "an append succeeded while the database was down",
        );

        await ferret!.restart();
        phase = "after";
        await waitFor("acks after the restart", () => acksAfter >= 200);
      } finally {
        running = false;
        await Promise.all(workers);
      }
      assert.ok(slowestFailureMs < 10_000, `a failure took ${slowestFailureMs} ms to report`);

      // Clients retry what failed; each retry is stored once or is a duplicate.
      for (const clientId of failed) {
        const [ack] = await store.appendEnvelopes([envelope(clientId)]);
        if (!acked.has(clientId)) acked.set(clientId, ack!.seq);
      }
      const stored = await store.mailbox(BOB, 0, 1_000_000);
      const storedIds = stored.map((e) => e.clientId);
      assert.equal(new Set(storedIds).size, storedIds.length, "an envelope was stored twice");
      const bySeq = new Map(stored.map((e) => [e.clientId, e.seq]));
      for (const [clientId, seq] of acked) {
        assert.equal(bySeq.get(clientId), seq, `acknowledged envelope ${clientId} was lost`);
      }
      assert.equal(stored.length, acked.size);
    });
  },
});

Deno.test({
  name: "MongoStore rejects instead of hanging when the database stops answering, then recovers",
  // Needs a server this file can freeze; a URL from SSP_TEST_MONGO_URL is not one.
  ignore: ferret === null,
  async fn() {
    await withStore(async (store) => {
      await store.appendEnvelopes([envelope("before")]);
      // Connections stay open; nothing answers. Resolves only once every
      // thread of FerretDB has stopped: until then it may still answer.
      await ferret!.freeze(true);
      try {
        // The slowest way to fail: the contention check (a read) times out
        // and the driver retries it once, 2 × replyTimeoutMs. A store that
        // waited for an answer would fail here at the deadline.
        await within(assert.rejects(store.appendEnvelopes([envelope("frozen")]), StorageError), {
          what: "the append to the frozen database to fail",
          deadlineMs: 5_000,
        });
      } finally {
        await ferret!.freeze(false);
      }
      // The frozen request may still land once FerretDB runs again; a retry
      // then reports it as a duplicate, never a second copy.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const [retry] = await store.appendEnvelopes([envelope("frozen")]);
          assert.ok(retry!.seq > 1);
          break;
        } catch (error) {
          assert.ok(error instanceof StorageError);
          if (Date.now() > deadline) throw error;
        }
      }
      const stored = await store.mailbox(BOB, 0, 10);
      assert.deepEqual(stored.map((e) => e.clientId), ["before", "frozen"]);
    }, { replyTimeoutMs: 2000 });
  },
});
