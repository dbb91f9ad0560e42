/**
 * Parallel `file_begin` requests against a real server: two accounts racing
 * for one new file id, and one account racing against its own quota from
 * several connections at once.
 */
import assert from "node:assert/strict";
import { CHUNK_OVERHEAD } from "../lib/e2e/mod.ts";
import { type FileChunk, newMessageId } from "../lib/protocol/mod.ts";
import { DEFAULT_MAX_FILE_BYTES, DEFAULT_QUOTA_BYTES } from "../lib/server/mod.ts";
import {
  type BeginRequest,
  beginRequest as beginTo,
  outcome,
  plainSizeFor,
} from "./file_requests.ts";
import { startTestServer } from "./harness.ts";
import { newUser, type TestUser, userSession } from "./users.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const CAROL = "+12015550103";

/** A `file_begin` of a file to Bob. */
function beginRequest(user: TestUser, fileId: string, size: number): Promise<BeginRequest> {
  return beginTo(user, fileId, size, BOB);
}

Deno.test("two accounts beginning one new file id at once: only one gets it", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  const carol = await newUser(server, CAROL);
  try {
    const rounds = 30;
    for (let round = 0; round < rounds; round++) {
      const fileId = newMessageId();
      const requests = [
        await beginRequest(alice, fileId, 1000),
        await beginRequest(carol, fileId, 1000),
      ];
      const [a, c] = await Promise.all([
        outcome(alice, requests[0]!),
        outcome(carol, requests[1]!),
      ]);
      const outcomes = [a, c].sort();
      // The loser is refused, whether it lost the store's race (file_exists) or the
      // connection's (upload_busy): never two uploaders of one file.
      assert.ok(
        ["file_exists,ready", "ready,upload_busy"].includes(String(outcomes)),
        `round ${round}: alice ${a}, carol ${c}`,
      );
      const loser = a === "ready" ? carol : alice;
      const winner = a === "ready" ? ALICE : CAROL;
      // The loser cannot write into the winner's file.
      const failed = new Promise<string>((resolve) => {
        const stop = loser.session.rpc.onFile(fileId, (message) => {
          if (message.t === "file_failed") {
            stop();
            resolve(message.code);
          }
        });
      });
      await loser.session.rpc.notifyWithBytes<FileChunk, "data">(
        { t: "file_chunk", fileId, index: 0 },
        "data",
        [new Uint8Array(1000 + CHUNK_OVERHEAD)],
      );
      assert.equal(await failed, "no_upload");
      const listed = await bob.session.rpc.request({ t: "file_list" });
      const record = listed.files.find((f) => f.fileId === fileId);
      assert.equal(record?.owner, winner);
      assert.equal(record?.envelopes.length, 1, "only the winner's announcement is kept");
    }
  } finally {
    for (const user of [alice, bob, carol]) user.session.close();
    await server.stop();
  }
});

Deno.test("parallel 8 GiB file_begin on one account reserve no more than its quota", async () => {
  const server = await startTestServer();
  const connections = 8;
  const first = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  const sessions = [first];
  for (let i = 1; i < connections; i++) sessions.push(await userSession(server, ALICE));
  try {
    const size = plainSizeFor(DEFAULT_MAX_FILE_BYTES);
    const requests = await Promise.all(
      sessions.map((user) => beginRequest(user, newMessageId(), size)),
    );
    const outcomes = await Promise.all(sessions.map((user, i) => outcome(user, requests[i]!)));
    const fit = Math.floor(DEFAULT_QUOTA_BYTES / requests[0]!.cipherSize);
    assert.equal(outcomes.filter((o) => o === "ready").length, fit, String(outcomes));
    assert.equal(outcomes.filter((o) => o === "quota_exceeded").length, connections - fit);
    const listed = await first.session.rpc.request({ t: "file_list" });
    const reserved = listed.files.reduce((sum, f) => sum + f.cipherSize, 0);
    assert.ok(reserved <= DEFAULT_QUOTA_BYTES, `${reserved} bytes reserved`);
  } finally {
    for (const user of [...sessions, bob]) user.session.close();
    await server.stop();
  }
});
