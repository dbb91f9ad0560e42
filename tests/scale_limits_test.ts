/**
 * Per-account limits across servers: three (or two) in-process servers on
 * one FerretDB database (tests/cluster.ts) hold one upload per file, the file
 * quota and the message quota as one server does. Never skipped.
 */
import assert from "node:assert/strict";
import { ServerError } from "../lib/client/mod.ts";
import { type FileChunk, newMessageId } from "../lib/protocol/mod.ts";
import { MongoFileStore } from "../lib/store/mongo_files.ts";
import { until } from "../lib/testing/mod.ts";
import { startFerretDb } from "../scripts/ferretdb.ts";
import { startNats } from "../scripts/nats.ts";
import { type ClusterSetup, startCluster, withCluster as withClusterOn } from "./cluster.ts";
import { type BeginRequest, beginRequest, outcome, plainSizeFor } from "./file_requests.ts";
import type { TestServer } from "./harness.ts";
import { newUser, sendRaw, type TestUser, userSession } from "./users.ts";
import { DEFAULT_CHUNK_BYTES } from "../lib/e2e/mod.ts";

const ferret = await startFerretDb();
const nats = await startNats();
const backends = { mongoUrl: ferret.url, natsUrl: nats.url };

const ALICE = "+12015550101";
const BOB = "+12015550102";

const options = { sanitizeOps: false, sanitizeResources: false };

function withCluster(
  setup: ClusterSetup,
  body: (servers: TestServer[], users: TestUser[]) => Promise<void>,
): Promise<void> {
  return withClusterOn(backends, setup, body);
}

/** Sends chunks `from`… of the file (zeros of the right sizes), then `file_end`. */
async function upload(user: TestUser, request: BeginRequest, from = 0): Promise<void> {
  const { fileId, chunks, chunkBytes, cipherSize } = request;
  for (let index = from; index < chunks; index++) {
    const length = index < chunks - 1 ? chunkBytes : cipherSize - index * chunkBytes;
    await user.session.rpc.notifyWithBytes<FileChunk, "data">(
      { t: "file_chunk", fileId, index },
      "data",
      [new Uint8Array(length)],
    );
  }
  await user.session.rpc.request({ t: "file_end", fileId });
}

/** Begins the upload again until the file is free (or 10 s pass); the file's committed count. */
async function resumeWhenFree(user: TestUser, request: BeginRequest): Promise<number> {
  let committed = -1;
  let last = "";
  await until(async () => {
    try {
      committed = (await user.session.rpc.request(request)).committed;
      return true;
    } catch (error) {
      assert.ok(error instanceof ServerError && error.code === "upload_busy", String(error));
      last = error.code;
      return false;
    }
  }, { what: `the file to be free (last: ${last})`, deadlineMs: 10_000, intervalMs: 100 });
  return committed;
}

/** A three-chunk file. */
const FILE_SIZE = 2 * DEFAULT_CHUNK_BYTES + 1000;

Deno.test({
  name: "one account beginning one file through two servers at once: exactly one uploads; " +
    "the other resumes it once the first has ended or its connection died",
  ...options,
  async fn() {
    await withCluster({ count: 2 }, async ([s0, s1], users) => {
      users.push(await newUser(s0!, BOB));
      const on0 = await newUser(s0!, ALICE);
      const on1 = await userSession(s1!, ALICE);
      users.push(on0, on1);
      for (let round = 0; round < 8; round++) {
        const request = await beginRequest(on0, newMessageId(), FILE_SIZE, BOB);
        const [a, b] = await Promise.all([outcome(on0, request), outcome(on1, request)]);
        assert.deepEqual([a, b].sort(), ["ready", "upload_busy"], `round ${round}: ${a}, ${b}`);
        const [winner, loser] = a === "ready" ? [on0, on1] : [on1, on0];
        if (round % 2 === 0) {
          // The first upload ends: the file is then the other server's to resume (complete).
          await upload(winner, request);
          assert.equal(await resumeWhenFree(loser, request), request.chunks);
          await loser.session.rpc.request({ t: "file_end", fileId: request.fileId });
        } else {
          // The loser still cannot start while the winner holds the file.
          assert.equal(await outcome(loser, request), "upload_busy");
          await winner.session.rpc.request({ t: "file_end", fileId: request.fileId }).catch(
            (e: unknown) => assert.equal((e as ServerError).code, "incomplete_upload"),
          );
        }
      }
      // The holder's connection dies mid-upload: the other server resumes the file.
      const request = await beginRequest(on0, newMessageId(), FILE_SIZE, BOB);
      assert.equal(await outcome(on0, request), "ready");
      assert.equal(await outcome(on1, request), "upload_busy");
      on0.session.close();
      assert.equal(await resumeWhenFree(on1, request), 0);
      await upload(on1, request);
      const listed = await on1.session.rpc.request({ t: "file_list" });
      const file = listed.files.find((f) => f.fileId === request.fileId);
      assert.equal(file?.committed, request.chunks);
    });
  },
});

Deno.test({
  name: "an upload lease is renewed while held and runs out when its server died holding it",
  ...options,
  async fn() {
    const leaseMs = 1000;
    const { servers: [s0, s1], dbName, stop } = await startCluster(backends, {
      count: 2,
      server: { uploadLeaseMs: leaseMs },
    });
    const users: TestUser[] = [];
    const dead = await MongoFileStore.connect(ferret.url, { dbName });
    try {
      users.push(await newUser(s0!, BOB));
      const on0 = await newUser(s0!, ALICE);
      const on1 = await userSession(s1!, ALICE);
      users.push(on0, on1);
      // Held (and renewed) for three lease lifetimes by an idle upload.
      const held = await beginRequest(on0, newMessageId(), FILE_SIZE, BOB);
      assert.equal(await outcome(on0, held), "ready");
      await new Promise((resolve) => setTimeout(resolve, 3 * leaseMs));
      assert.equal(await outcome(on1, held), "upload_busy");
      await upload(on0, held);

      // A server that took a lease and died: neither renewed nor released.
      const orphan = await beginRequest(on0, newMessageId(), FILE_SIZE, BOB);
      assert.ok(await dead.leases.acquire(orphan.fileId, "a dead server", leaseMs));
      const since = Date.now();
      assert.equal(await outcome(on1, orphan), "upload_busy");
      await resumeWhenFree(on1, orphan);
      assert.ok(Date.now() - since >= leaseMs * 0.9, `free after ${Date.now() - since} ms`);
      await upload(on1, orphan);
    } finally {
      for (const user of users) user.session.close();
      await dead.close();
      await stop();
    }
  },
});

Deno.test({
  name: "parallel file_begin through three servers reserve no more than the account's quota",
  ...options,
  async fn() {
    const size = plainSizeFor(1024 * 1024); // 1 MiB of ciphertext each
    const fileBytes = 1024 * 1024;
    const fit = 5;
    const quotaBytes = fit * fileBytes + fileBytes / 2;
    await withCluster({ server: { quotaBytes } }, async (servers, users) => {
      users.push(await newUser(servers[0]!, BOB));
      const alice = await newUser(servers[0]!, ALICE);
      users.push(alice);
      for (const server of servers.slice(1)) users.push(await userSession(server, ALICE));
      const sessions = users.slice(1);
      const perSession = 8;
      const requests = await Promise.all(
        sessions.flatMap((user) =>
          Array.from({ length: perSession }, () => beginRequest(user, newMessageId(), size, BOB))
        ),
      );
      assert.equal(requests[0]!.cipherSize, fileBytes);
      const outcomes = await Promise.all(
        requests.map((request, i) => outcome(sessions[Math.floor(i / perSession)]!, request)),
      );
      assert.equal(outcomes.filter((o) => o === "ready").length, fit, String(outcomes));
      assert.equal(outcomes.filter((o) => o === "quota_exceeded").length, requests.length - fit);
      const listed = await alice.session.rpc.request({ t: "file_list" });
      const reserved = listed.files.filter((f) => f.owner === ALICE)
        .reduce((sum, f) => sum + f.cipherSize, 0);
      assert.equal(reserved, fit * fileBytes);
    });
  },
});

Deno.test({
  name: "parallel sends through three servers store no more than the account's message quota",
  ...options,
  async fn() {
    const quota = 8000;
    await withCluster({ server: { messageQuotaBytes: quota } }, async (servers, users) => {
      await newUser(servers[0]!, BOB).then((bob) => bob.session.close());
      const sessions = [await newUser(servers[0]!, ALICE)];
      for (const server of servers.slice(1)) sessions.push(await userSession(server, ALICE));
      users.push(...sessions);
      // Each server first sees the account's usage before anyone has sent.
      const codes = await Promise.all(
        sessions.flatMap((user) => Array.from({ length: 12 }, () => sendRaw(user, BOB, 1000))),
      );
      const accepted = codes.filter((c) => c === "ok").length;
      assert.equal(codes.filter((c) => c === "over_message_quota").length, 36 - accepted);
      const stored = await servers[0]!.store.storedMessageBytes(ALICE);
      assert.ok(stored <= quota, `${stored} bytes stored against a quota of ${quota}`);
      // Exact, not just bounded: as many as fit were accepted (the envelopes are of one size).
      assert.ok(accepted > 0 && stored % accepted === 0, `${accepted} sends, ${stored} bytes`);
      assert.equal(accepted, Math.floor(quota / (stored / accepted)), codes.join(","));
      // It is full: every server refuses another message.
      for (const user of sessions) {
        assert.equal(await sendRaw(user, BOB, 1000), "over_message_quota");
      }
    });
  },
});
