/**
 * Real clients messaging through a real server whose store is MongoStore on
 * FerretDB (started once for this file by scripts/ferretdb.ts), or on the
 * MongoDB at `SSP_TEST_MONGO_URL`. Never skipped: if FerretDB cannot be built
 * or started, loading this file fails the run.
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { dropDatabase, type FerretDb, startFerretDb } from "../scripts/ferretdb.ts";
import { SspError } from "../lib/errors.ts";
import { MongoStore } from "../lib/store/mod.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { newUser, PASSWORD, textsOf, userSession } from "./users.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret: FerretDb | null = external ? null : await startFerretDb();
const url = external ?? ferret!.url;

const ALICE = "+12015550101";
const BOB = "+12015550102";

let databases = 0;

/** A server on a fresh MongoDB database; `stop()` also drops the database. */
async function startMongoServer(): Promise<
  { server: TestServer; dbName: string; stop(): Promise<void> }
> {
  const dbName = `ssp_e2e_${Date.now().toString(36)}_${databases++}`;
  const store = await MongoStore.connect(url, { dbName });
  const server = await startTestServer({ store });
  return {
    server,
    dbName,
    async stop() {
      await server.stop();
      await store.close();
      await dropDatabase(url, dbName);
    },
  };
}

Deno.test("two clients message live and offline through a server on MongoDB, which stores no plaintext", async () => {
  const { server, dbName, stop } = await startMongoServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  let bobOpen = true;
  try {
    const marker = "PLAINTEXT-MARKER-e2e-51c9";
    const live = Array.from({ length: 10 }, (_, i) => `${marker} live ${i}`);
    for (const text of live) await alice.session.messenger.send([BOB], { kind: "text", text });
    assert.deepEqual(textsOf(await bob.texts(10)), live);

    bob.session.close();
    bobOpen = false;
    const offline = ["while you were out 1", "while you were out 2"];
    for (const text of offline) await alice.session.messenger.send([BOB], { kind: "text", text });
    const back = await userSession(server, BOB, { dataDir: bob.dataDir });
    try {
      assert.deepEqual(textsOf(await back.texts(2)), offline);
    } finally {
      back.session.close();
    }

    const client = new MongoClient(url);
    try {
      const db = client.db(dbName);
      let envelopes = 0;
      for (const { name } of await db.listCollections().toArray()) {
        for (const doc of await db.collection(name).find().toArray()) {
          if (name === "envelopes") envelopes++;
          const raw = JSON.stringify(doc, (_, v) => v?._bsontype === "Binary" ? v.toString() : v);
          for (const secret of [marker, "while you were out", PASSWORD]) {
            assert.ok(!raw.includes(secret), `"${secret}" stored in ${name}`);
          }
        }
      }
      assert.ok(envelopes >= 12, `expected at least 12 envelopes, found ${envelopes}`);
    } finally {
      await client.close();
    }
  } finally {
    alice.session.close();
    if (bobOpen) bob.session.close();
    await stop();
  }
});

Deno.test({
  name: "a server on MongoDB answers 'storage unavailable' during an outage, keeps the " +
    "connection, and recovers without a restart",
  // Restarting FerretDB starts a process (and its pipes) that outlives this test.
  sanitizeOps: false,
  sanitizeResources: false,
  // Needs a database this file can stop; a URL from SSP_TEST_MONGO_URL is not one.
  ignore: ferret === null,
  async fn() {
    const { server, stop } = await startMongoServer();
    const alice = await newUser(server, ALICE);
    const bob = await newUser(server, BOB);
    try {
      await alice.session.messenger.send([BOB], { kind: "text", text: "before" });
      // Let Bob's client finish with "before" (it looks Alice's keys up on the
      // server) before the database goes away.
      await bob.texts(1);
      await ferret!.halt();
      const id = "0123456789abcdef0123456789abcdef";
      let refusal: unknown = null;
      try {
        await alice.session.messenger.send([BOB], { kind: "text", text: "during" }, id);
      } catch (error) {
        refusal = error;
      } finally {
        await ferret!.restart();
      }
      assert.ok(refusal instanceof SspError, `the send was not refused: ${refusal}`);
      assert.equal(refusal.code, "storage_unavailable");

      // The same session retries the same message id once the database is back.
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await alice.session.messenger.send([BOB], { kind: "text", text: "during" }, id);
          break;
        } catch (error) {
          assert.ok(error instanceof SspError && error.code === "storage_unavailable", `${error}`);
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await alice.session.messenger.send([BOB], { kind: "text", text: "after" });
      assert.deepEqual(textsOf(await bob.texts(3)), ["before", "during", "after"]);
      // Nothing arrives twice, even if the refused attempt reached the database: envelopes are
      // delivered in seq order, so a second copy would come before a message stored after all.
      await alice.session.messenger.send([BOB], { kind: "text", text: "last" });
      assert.deepEqual(textsOf(await bob.texts(4)), ["before", "during", "after", "last"]);
    } finally {
      alice.session.close();
      bob.session.close();
      await stop();
    }
  },
});
