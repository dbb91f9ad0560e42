/**
 * A file sent through a real server whose accounts, messages and files all
 * live in MongoDB (FerretDB started for this file, or `SSP_TEST_MONGO_URL`).
 * Never skipped.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { MongoClient } from "mongodb";
import { startFerretDb } from "../scripts/ferretdb.ts";
import { getFile, sendFile } from "../lib/client/mod.ts";
import { MongoStore } from "../lib/store/mod.ts";
import { MongoFileStore } from "../lib/store/mongo_files.ts";
import { startTestServer, tempDir } from "./harness.ts";
import { newUser } from "./users.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret = external ? null : await startFerretDb();
const url = external ?? ferret!.url;

Deno.test("two clients transfer a file through a server on MongoDB; the database holds no plaintext or name", async () => {
  const dbName = `ssp_files_e2e_${Date.now().toString(36)}`;
  const store = await MongoStore.connect(url, { dbName });
  const files = await MongoFileStore.connect(url, { dbName });
  const server = await startTestServer({ store, files });
  const alice = await newUser(server, "+12015550101");
  const bob = await newUser(server, "+12015550102");
  const src = await tempDir();
  const name = "mongo-secret-report.pdf";
  const marker = "FILE-PLAINTEXT-MARKER-9c1d";
  try {
    const content = new Uint8Array([
      ...new TextEncoder().encode(marker.repeat(1000)),
      ...randomBytes(900_000),
    ]);
    await Deno.writeFile(`${src}/${name}`, content);
    const sent = await sendFile(alice.session, `${src}/${name}`, ["+12015550102"]);
    const got = await getFile(bob.session, sent.fileId, await tempDir());
    assert.deepEqual(await Deno.readFile(got.path), content);

    const client = new MongoClient(url);
    try {
      const db = client.db(dbName);
      for (const collection of await db.listCollections().toArray()) {
        for (const doc of await db.collection(collection.name).find().toArray()) {
          const raw = JSON.stringify(doc);
          assert.ok(!raw.includes(name), `${collection.name} holds the file name`);
          const bytes = Buffer.from(
            JSON.stringify(
              doc,
              (_k, v) =>
                v && v._bsontype === "Binary" ? Buffer.from(v.buffer).toString("latin1") : v,
            ),
          );
          assert.equal(bytes.indexOf(marker), -1, `${collection.name} holds file plaintext`);
        }
      }
      assert.ok((await db.collection("file_chunks").countDocuments()) >= 4);
      await db.dropDatabase();
    } finally {
      await client.close();
    }
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
    await store.close();
    await files.close();
  }
});
