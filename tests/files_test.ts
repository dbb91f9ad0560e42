/**
 * End-to-end encrypted file transfer against a real server: round trips of
 * awkward sizes and names, resumed uploads and downloads, tampering by the
 * server, limits, and what the server keeps.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { deleteFile, getFile, listFiles, sendFile, shareFile } from "../lib/client/mod.ts";
import { DEFAULT_CHUNK_BYTES } from "../lib/e2e/mod.ts";
import { SspError } from "../lib/errors.ts";
import { until } from "../lib/testing/mod.ts";
import { startTestServer, tempDir, type TestServer } from "./harness.ts";
import { newUser, type TestUser, userSession } from "./users.ts";
import { walk } from "./walk.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const CAROL = "+12015550103";
const CHUNK = DEFAULT_CHUNK_BYTES;

async function writeRandom(dir: string, name: string, size: number): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, new Uint8Array(randomBytes(size)));
  return path;
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

async function pair(server: TestServer): Promise<[TestUser, TestUser]> {
  return [await newUser(server, ALICE), await newUser(server, BOB)];
}

function fileMessages(user: TestUser) {
  return user.received.filter((m) => m.content.kind === "file");
}

Deno.test("files of awkward sizes and names arrive byte-identical", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  const out = await tempDir();
  try {
    const cases: [string, number][] = [
      ["empty", 0],
      ["one byte.bin", 1],
      ["chunk minus one", CHUNK - 1],
      ["exactly one chunk", CHUNK],
      ["chunk plus one", CHUNK + 1],
      ["résumé ünïcode 📄.tar.gz", 3 * CHUNK + 5],
    ];
    for (const [name, size] of cases) {
      const path = await writeRandom(src, name, size);
      const sent = await sendFile(alice.session, path, [BOB]);
      assert.equal(sent.size, size);
      const got = await getFile(bob.session, sent.fileId, out);
      assert.equal(got.path, `${out}/${name}`);
      assert.equal(await sha256(got.path), await sha256(path), name);
      assert.equal(got.entry.from, ALICE);
      assert.equal(got.entry.verified, true);
    }
    // The recipient saw each file announced live, with name and size, and lists them all.
    const announced = fileMessages(bob);
    assert.equal(announced.length, cases.length);
    const listed = await listFiles(bob.session);
    assert.deepEqual(listed.map((f) => f.name).sort(), cases.map(([n]) => n).sort());
    assert.ok(listed.every((f) => f.complete));
    // Fetching again never overwrites: the copy gets a new name.
    const again = await getFile(bob.session, listed[0]!.fileId.slice(0, 8), out);
    assert.match(again.path, / \(1\)/);
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("an upload cut mid-way resumes from the last committed chunk", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  const out = await tempDir();
  try {
    const path = await writeRandom(src, "big.bin", 40 * CHUNK + 123);
    await assert.rejects(
      sendFile(alice.session, path, [BOB], (done) => {
        if (done >= 25 * CHUNK) alice.session.close(); // the connection drops
      }),
    );
    const again = await userSession(server, ALICE, { dataDir: alice.dataDir });
    const sent = await sendFile(again.session, path, [BOB]);
    assert.ok(sent.resumedAt >= 16 * CHUNK, `resumed at ${sent.resumedAt}`);
    const got = await getFile(bob.session, sent.fileId, out);
    assert.equal(await sha256(got.path), await sha256(path));
    assert.equal((await listFiles(bob.session)).length, 1, "one file, not two");
    again.session.close();
  } finally {
    bob.session.close();
    await server.stop();
  }
});

Deno.test("one upload serves several recipients", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const carol = await newUser(server, CAROL);
  const src = await tempDir();
  try {
    const path = await writeRandom(src, "team.pdf", 2 * CHUNK);
    const sent = await sendFile(alice.session, path, [BOB, CAROL]);
    for (const user of [bob, carol]) {
      const got = await getFile(user.session, sent.fileId, await tempDir());
      assert.equal(await sha256(got.path), await sha256(path));
    }
    // Dave is added later: a new announcement, still the same stored upload.
    const dave = await newUser(server, "+12015550104");
    await shareFile(alice.session, sent.fileId.slice(0, 10), ["+12015550104"]);
    const forDave = await getFile(dave.session, sent.fileId, await tempDir());
    assert.equal(await sha256(forDave.path), await sha256(path));
    await assert.rejects(
      shareFile(bob.session, sent.fileId, ["+12015550104"]),
      (e: unknown) => e instanceof SspError && e.code === "not_owner",
    );
    dave.session.close();
    const stored = [...Deno.readDirSync(`${server.dataDir}/files`)].filter((e) =>
      e.name.endsWith(".bin")
    );
    assert.equal(stored.length, 1);
  } finally {
    for (const u of [alice, bob, carol]) u.session.close();
    await server.stop();
  }
});

Deno.test("a recipient can fetch while the upload is still running", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  try {
    const path = await writeRandom(src, "live.bin", 64 * CHUNK);
    const out = await tempDir();
    let download: ReturnType<typeof getFile> | undefined;
    let received = 0;
    // Half-way, the upload waits until Bob's download has received chunks of it: the download
    // provably runs while the upload is unfinished.
    await sendFile(alice.session, path, [BOB], async (done) => {
      if (done < 32 * CHUNK || download) return;
      await until(() => fileMessages(bob).length > 0, { what: "Bob to see the file announced" });
      const [file] = fileMessages(bob);
      assert.ok(file?.content.kind === "file");
      download = getFile(bob.session, file.content.fileId, out, (got) => void (received = got));
      await until(() => received >= 16 * CHUNK, {
        what: "Bob's download to receive 16 chunks of the unfinished upload",
      });
    });
    assert.ok(download, "the upload got half-way");
    const got = await download;
    assert.equal(await sha256(got.path), await sha256(path));
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

/** Flips, swaps or drops stored ciphertext the way a hostile server could. */
async function tamper(server: TestServer, fileId: string, how: "flip" | "swap" | "drop-last") {
  const path = `${server.dataDir}/files/${fileId}.bin`;
  const bytes = await Deno.readFile(path);
  const chunk = CHUNK + 16;
  if (how === "flip") bytes[chunk + 100]! ^= 1;
  if (how === "swap") {
    const first = bytes.slice(0, chunk);
    bytes.copyWithin(0, chunk, 2 * chunk);
    bytes.set(first, chunk);
  }
  if (how === "drop-last") {
    const db = new DatabaseSync(`${server.dataDir}/files/files.db`);
    db.prepare(
      "UPDATE files SET chunks = chunks - 1, committed = committed - 1, cipher_size = ? WHERE file_id = ?",
    ).run(2 * chunk, fileId);
    db.close();
  }
  await Deno.writeFile(path, bytes);
}

for (const how of ["flip", "swap", "drop-last"] as const) {
  Deno.test(`a file whose stored chunks were tampered with (${how}) is refused and not saved`, async () => {
    const server = await startTestServer();
    const [alice, bob] = await pair(server);
    const src = await tempDir();
    const out = await tempDir();
    try {
      const path = await writeRandom(src, "contract.pdf", 2 * CHUNK + 7);
      const { fileId } = await sendFile(alice.session, path, [BOB]);
      await tamper(server, fileId, how);
      await assert.rejects(getFile(bob.session, fileId, out), (e: unknown) => {
        assert.ok(e instanceof SspError, String(e));
        assert.match(e.code, how === "drop-last" ? /file_mismatch/ : /chunk_auth_failed/);
        return true;
      });
      assert.deepEqual([...Deno.readDirSync(out)], [], "nothing left under any name");
    } finally {
      alice.session.close();
      bob.session.close();
      await server.stop();
    }
  });
}

Deno.test("an over-limit file and an over-quota user are refused before any data is sent", async () => {
  const server = await startTestServer({ maxFileBytes: 3 * CHUNK, quotaBytes: 4 * CHUNK });
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  try {
    const big = await writeRandom(src, "big.bin", 3 * CHUNK + 1);
    let sentBytes = 0;
    await assert.rejects(
      sendFile(alice.session, big, [BOB], (done) => void (sentBytes = done)),
      (e: unknown) => e instanceof SspError && e.code === "file_too_large",
    );
    assert.equal(sentBytes, 0);
    await sendFile(alice.session, await writeRandom(src, "a.bin", 2 * CHUNK), [BOB]);
    await assert.rejects(
      sendFile(alice.session, await writeRandom(src, "b.bin", 2 * CHUNK + 100), [BOB]),
      (e: unknown) =>
        e instanceof SspError && e.code === "quota_exceeded" && /quota/.test(e.message),
    );
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("a sender deletes a file: it is gone for everyone and its quota is free again", async () => {
  const server = await startTestServer({ quotaBytes: 4 * CHUNK });
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  try {
    const first = await sendFile(alice.session, await writeRandom(src, "a.bin", 3 * CHUNK), [BOB]);
    const second = await writeRandom(src, "b.bin", 2 * CHUNK);
    await assert.rejects(sendFile(alice.session, second, [BOB]), { code: "quota_exceeded" });
    await assert.rejects(deleteFile(bob.session, first.fileId), { code: "not_owner" });

    const deleted = await deleteFile(alice.session, first.fileId.slice(0, 8));
    assert.equal(deleted.fileId, first.fileId);
    for (const user of [alice, bob]) {
      assert.deepEqual((await listFiles(user.session)).map((f) => f.fileId), []);
    }
    await assert.rejects(getFile(bob.session, first.fileId, await tempDir()), {
      code: "no_such_file",
    });
    await assert.rejects(deleteFile(alice.session, first.fileId), { code: "no_such_file" });
    await sendFile(alice.session, second, [BOB]); // fits in the quota again
    const left = [];
    for await (const entry of Deno.readDir(`${server.dataDir}/files`)) left.push(entry.name);
    assert.ok(!left.some((name) => name.startsWith(first.fileId)), "its chunks left the disk");
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("a file cannot be deleted while it is being uploaded", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  try {
    const path = await writeRandom(src, "busy.bin", 16 * CHUNK);
    const other = await userSession(server, ALICE, { dataDir: alice.dataDir });
    let deleting: Promise<unknown> | undefined;
    // Half-way, the upload waits until Alice's other device has tried to delete the file.
    const sent = await sendFile(alice.session, path, [BOB], async (done) => {
      if (done < 8 * CHUNK || deleting) return;
      deleting = listFiles(other.session).then(([file]) => deleteFile(other.session, file!.fileId))
        .catch((e) => e);
      await deleting;
    }).then((r) => r, (e) => e);
    assert.ok(deleting, "the upload got far enough to try");
    const error = await deleting;
    assert.equal((error as SspError).code, "upload_in_progress", String(error));
    assert.equal((sent as { fileId?: string }).fileId?.length, 32, "the upload went on");
    assert.equal((await listFiles(bob.session))[0]?.complete, true);
    other.session.close();
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("a download waiting for an unfinished upload ends at once when the sender deletes it", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  const out = await tempDir();
  try {
    const path = await writeRandom(src, "half.bin", 40 * CHUNK);
    await assert.rejects(
      sendFile(alice.session, path, [BOB], (done) => {
        if (done >= 25 * CHUNK) alice.session.close(); // the upload stops part-way
      }),
    );
    const [listed] = await listFiles(bob.session);
    assert.equal(listed?.complete, false, "the upload is unfinished");
    const { fileId } = listed;
    const again = await userSession(server, ALICE, { dataDir: alice.dataDir });
    const started = performance.now();
    let deleting: Promise<unknown> | undefined;
    await assert.rejects(
      getFile(bob.session, fileId, out, (done) => {
        // Bob has the committed part and waits for the rest; Alice gives up and deletes it.
        if (done >= 16 * CHUNK) deleting ??= deleteFile(again.session, fileId);
      }),
      { code: "no_such_file" },
    );
    await deleting;
    assert.ok(performance.now() - started < 10_000, "it failed at once, not after a stall");
    assert.deepEqual(
      [...Deno.readDirSync(out)],
      [],
      "no part file is kept for a file that is gone",
    );
    again.session.close();
  } finally {
    bob.session.close();
    await server.stop();
  }
});

Deno.test("the server's stored bytes contain no file content and no file name", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  const name = "quarterly-secret-plans.txt";
  const marker = "TOP SECRET MARKER 7f3a9c — do not store in the clear";
  try {
    const text = `${marker}\n`.repeat(20_000);
    await Deno.writeTextFile(`${src}/${name}`, text);
    const { fileId } = await sendFile(alice.session, `${src}/${name}`, [BOB]);
    await getFile(bob.session, fileId, await tempDir());
  } finally {
    alice.session.close();
    bob.session.close();
    await server.server.shutdown();
  }
  await server.store.close();
  const needles = [marker, name].map((s) => new TextEncoder().encode(s));
  for await (const file of walk(server.dataDir)) {
    const bytes = await Deno.readFile(file);
    for (const needle of needles) {
      assert.equal(Buffer.from(bytes).indexOf(Buffer.from(needle)), -1, `${file} holds plaintext`);
    }
  }
});

Deno.test("an interrupted download resumes from the chunks already verified on disk", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  const out = await tempDir();
  try {
    const path = await writeRandom(src, "movie.mkv", 30 * CHUNK + 9);
    const { fileId } = await sendFile(alice.session, path, [BOB]);
    await assert.rejects(
      getFile(bob.session, fileId, out, (done) => {
        if (done >= 10 * CHUNK) bob.session.close();
      }),
    );
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), [
      `.movie.mkv.${fileId.slice(0, 8)}.ssp-part`,
    ]);
    const again = await userSession(server, BOB, { dataDir: bob.dataDir });
    const got = await getFile(again.session, fileId, out);
    assert.ok(got.resumedAt >= 10 * CHUNK, `resumed at ${got.resumedAt}`);
    assert.equal(await sha256(got.path), await sha256(path));
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["movie.mkv"]);
    again.session.close();
  } finally {
    alice.session.close();
    await server.stop();
  }
});

Deno.test("after a file is sent, the sender's client.db holds neither its name nor its key", async () => {
  const server = await startTestServer();
  const [alice, bob] = await pair(server);
  const src = await tempDir();
  try {
    const path = await writeRandom(src, "quarterly-layoffs-draft.xlsx", CHUNK + 5);
    const { fileId } = await sendFile(alice.session, path, [BOB]);
    const [entry] = await listFiles(bob.session);
    assert.equal(entry?.fileId, fileId);
    alice.session.close(); // the database files as they stay on disk
    const bytes = Buffer.concat(
      [...Deno.readDirSync(alice.dataDir)].filter((e) => e.name.startsWith("client.db"))
        .map((e) => Deno.readFileSync(`${alice.dataDir}/${e.name}`)),
    );
    assert.equal(bytes.indexOf("quarterly-layoffs-draft"), -1, "file name");
    assert.equal(bytes.indexOf(entry.content.key), -1, "file key");
  } finally {
    bob.session.close();
    await server.stop();
  }
});
