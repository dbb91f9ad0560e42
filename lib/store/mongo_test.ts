/**
 * MongoStore against a real MongoDB-protocol server (see _mongo_testing.ts):
 * the store contract, connecting, reconnecting, and what it stores. The
 * tests of several writers are in mongo_writers_test.ts, those of a failing
 * database in mongo_outage_test.ts.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { dropDatabase } from "../../scripts/ferretdb.ts";
import { generateIdentityKeys, sealEnvelope } from "../e2e/mod.ts";
import { newMessageId } from "../protocol/mod.ts";
import { StorageError } from "../errors.ts";
import { storeContract } from "./contract.ts";
import { openStore } from "./mod.ts";
import type { Keyed } from "./_mongo_docs.ts";
import { MongoStore } from "./mongo.ts";
import { ALICE, BOB, envelope, freshDbName, url, withStore } from "./_mongo_testing.ts";

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
