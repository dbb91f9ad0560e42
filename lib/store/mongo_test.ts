/**
 * MongoStore against a real MongoDB-protocol server: FerretDB, built and
 * started by scripts/ferretdb.ts once for this file, or any MongoDB named by
 * `SSP_TEST_MONGO_URL`. Never skipped: if FerretDB cannot be built or
 * started (no Go, no module proxy), loading this file fails and so does the
 * run, in CI and locally alike.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { dropDatabase, type FerretDb, startFerretDb } from "../../scripts/ferretdb.ts";
import { generateIdentityKeys, sealEnvelope } from "../e2e/mod.ts";
import { newMessageId } from "../protocol/mod.ts";
import { StorageError } from "../errors.ts";
import { until, within } from "../testing/mod.ts";
import { storeContract } from "./contract.ts";
import { openStore } from "./mod.ts";
import type { Keyed } from "./_mongo_docs.ts";
import { MongoStore, type MongoStoreOptions } from "./mongo.ts";
import type { NewEnvelope, StoredEnvelope } from "./types.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret: FerretDb | null = external ? null : await startFerretDb();
const url = external ?? ferret!.url;
/**
 * FerretDB on its PostgreSQL backend too (PostgreSQL runs on our machines),
 * for the tests of several writers: the backends differ in locking.
 */
const ferretPg: FerretDb | null = external ? null : await startFerretDb({
  postgresql: Deno.env.get("SSP_TEST_POSTGRES_URL") ??
    "postgres://postgres@127.0.0.1:5432/postgres",
});
/** The servers the tests of several writers run on. */
const backends: [name: string, url: string][] = ferretPg
  ? [["FerretDB/SQLite", url], ["FerretDB/PostgreSQL", ferretPg.url]]
  : [["MongoDB", url]];
// The launchers are killed when this test process exits (see scripts/ferretdb.ts).

let databases = 0;
/** A database name no other test (or earlier run against the same server) uses. */
function freshDbName(): string {
  return `ssp_test_${Date.now().toString(36)}_${databases++}`;
}

storeContract("MongoStore", async () => {
  const dbName = freshDbName();
  const store = await MongoStore.connect(url, { dbName });
  return {
    store,
    async cleanup() {
      await store.close();
      await dropDatabase(url, dbName);
    },
  };
});

const ALICE = "+15550000001";
const BOB = "+15550000002";

function envelope(
  clientId: string,
  body: Uint8Array = new TextEncoder().encode(clientId),
): NewEnvelope {
  return {
    sender: ALICE,
    clientId,
    recipients: [BOB],
    conversation: `${ALICE},${BOB}`,
    body,
  };
}

async function withStore(
  body: (store: MongoStore, dbName: string) => Promise<void>,
  options: MongoStoreOptions = {},
  server = url,
) {
  const dbName = freshDbName();
  const store = await MongoStore.connect(server, { ...options, dbName });
  try {
    await body(store, dbName);
  } finally {
    await store.close();
    await dropDatabase(server, dbName);
  }
}

Deno.test("MongoStore.connect() names the hosts it tried when nothing answers", async () => {
  const started = performance.now();
  // Port 9 (discard) on loopback: nothing listens there in a test machine.
  await assert.rejects(
    MongoStore.connect("mongodb://u:secret@127.0.0.1:9/ssp", { timeoutMs: 500 }),
    (
      error,
    ) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "storage_unavailable");
      assert.match(
        error.message,
        /^Cannot use MongoDB at mongodb:\/\/u:\*\*\*@127\.0\.0\.1:9\/ssp/,
      );
      assert.doesNotMatch(error.message, /secret/);
      assert.match(error.hint ?? "", /SSP_MONGO_URL/);
      return true;
    },
  );
  assert.ok(performance.now() - started < 5000, "connect() should give up after its timeout");
});

Deno.test("MongoStore.connect() rejects a malformed URL with the expected form", async () => {
  await assert.rejects(MongoStore.connect("mongo://localhost"), (error) => {
    assert.ok(error instanceof StorageError);
    assert.match(error.message, /^Invalid MongoDB URL mongo:\/\/localhost/);
    assert.match(error.hint ?? "", /mongodb:\/\/HOST/);
    return true;
  });
});

Deno.test("MongoStore keeps its data across a reconnect and continues the sequence", async () => {
  await withStore(async (first, dbName) => {
    const acks = await first.appendEnvelopes([envelope("a"), envelope("b")]);
    await first.setDeliveredSeq(BOB, acks[1]!.seq);
    const second = await MongoStore.connect(url, { dbName });
    try {
      assert.equal(await second.getDeliveredSeq(BOB), acks[1]!.seq);
      const [again, next] = await second.appendEnvelopes([envelope("a"), envelope("c")]);
      assert.deepEqual(again, { ...acks[0]!, duplicate: true });
      assert.ok(next!.seq > acks[1]!.seq);
    } finally {
      await second.close();
    }
  });
});

Deno.test("openStore() opens the MongoDB store when given a URL", async () => {
  const dbName = freshDbName();
  const store = await openStore({
    dataDir: "/nonexistent/not-used",
    // The database name goes in the URL's path (before any ?options).
    mongoUrl: url.replace(/\/?(\?|$)/, `/${dbName}$1`),
  });
  try {
    assert.ok(store instanceof MongoStore);
    const [ack] = await store.appendEnvelopes([envelope("via-url")]);
    assert.deepEqual(ack, { seq: 1, storedAt: ack!.storedAt, duplicate: false });
  } finally {
    await store.close();
    await dropDatabase(url, dbName);
  }
});

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

Deno.test("MongoStore counts stored message bytes of envelopes written before bodyBytes", async () => {
  await withStore(async (store, dbName) => {
    await store.appendEnvelopes([envelope("new", new Uint8Array(300))]);
    const client = new MongoClient(url);
    try {
      // An envelope in the layout of earlier versions: no bodyBytes field.
      await client.db(dbName).collection<Keyed<number>>("envelopes").insertOne({
        _id: 1000,
        sender: ALICE,
        clientId: "old",
        recipients: [BOB],
        conversation: [ALICE, BOB].join(","),
        body: new Uint8Array(700),
        storedAt: 1,
      });
    } finally {
      await client.close();
    }
    assert.equal(await store.storedMessageBytes(ALICE), 1000);
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

Deno.test("MongoStore stores no plaintext: only sealed envelopes and opaque backups", async () => {
  await withStore(async (store, dbName) => {
    const marker = "PLAINTEXT-MARKER-7f3a";
    const [alice, bob] = await Promise.all([generateIdentityKeys(), generateIdentityKeys()]);
    const body = await sealEnvelope({
      id: newMessageId(),
      from: ALICE,
      to: [BOB],
      timestamp: Date.now(),
      content: { kind: "text", text: `${marker} meet at noon` },
      signingKey: alice.signing.privateKeyPkcs8,
      recipients: [
        { phone: ALICE, encryptionKey: alice.encryption.publicKey },
        { phone: BOB, encryptionKey: bob.encryption.publicKey },
      ],
    });
    await store.appendEnvelopes([envelope(newMessageId(), body)]);
    await store.setDeliveredSeq(BOB, 1);

    const client = new MongoClient(url);
    try {
      const db = client.db(dbName);
      let documents = 0;
      for (const { name } of await db.listCollections().toArray()) {
        for (const doc of await db.collection(name).find().toArray()) {
          documents++;
          const raw = JSON.stringify(doc, (_, v) => v?._bsontype === "Binary" ? v.toString() : v);
          assert.doesNotMatch(raw, new RegExp(marker), `plaintext in ${name}`);
          assert.doesNotMatch(raw, /meet at noon/, `plaintext in ${name}`);
        }
      }
      assert.ok(documents >= 2, `expected the envelope and the cursor, saw ${documents} documents`);
    } finally {
      await client.close();
    }
  });
});

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
