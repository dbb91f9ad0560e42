/**
 * What one client may take from a real server: new accounts per address and
 * in total, messages per minute, and bytes of stored messages per account
 * (docs/protocol.md §6.5, §7.5). Each refusal carries its code and a hint.
 */
import assert from "node:assert/strict";
import { connect, RpcConnection } from "../lib/client/mod.ts";
import { newMessageId } from "../lib/protocol/mod.ts";
import { openEmbeddedStore } from "../lib/store/mod.ts";
import { registerRaw } from "../lib/testing/mod.ts";
import { startTestServer, tempDir, type TestServer } from "./harness.ts";
import { newUser, sendRaw, userSession } from "./users.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const CAROL = "+12015550103";

/**
 * Registers `count` numbers on one connection, as a script would (random keys: the
 * server cannot tell); resolves with each outcome's code ("ok").
 */
async function registerMany(server: TestServer, count: number): Promise<string[]> {
  const dataDir = await tempDir();
  const rpc = new RpcConnection((await connect({ server: server.address, dataDir })).channel);
  try {
    const phones = Array.from({ length: count }, (_, i) => `+1201555${1000 + i}`);
    return (await registerRaw(rpc, phones)).map((refusal) => {
      if (refusal === null) return "ok";
      assert.match(refusal.message, /too many new accounts/);
      assert.ok((refusal.retryAfterMs ?? 0) > 0 && refusal.hint, "a wait and a hint");
      return refusal.code;
    });
  } finally {
    rpc.close();
  }
}

Deno.test("registrations are limited per address", async () => {
  const server = await startTestServer({ accountLimits: { registrationsPerAddress: 3 } });
  try {
    assert.deepEqual(await registerMany(server, 5), [
      "ok",
      "ok",
      "ok",
      "rate_limited",
      "rate_limited",
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("registrations are limited in total", async () => {
  const server = await startTestServer({
    accountLimits: { registrationsPerAddress: 100, registrationsPerHour: 2 },
  });
  try {
    assert.deepEqual(await registerMany(server, 3), ["ok", "ok", "rate_limited"]);
  } finally {
    await server.stop();
  }
});

Deno.test("an account sending faster than --send-rate is told to retry later", async () => {
  const server = await startTestServer({ sendRate: 3 }); // 3 at once, then one per 20 s
  const bob = await newUser(server, BOB);
  const alice = await newUser(server, ALICE);
  // Carol receives nothing, so her client sends no delivery receipts of its own
  // (Bob's do, for Alice's messages, and they count against Bob's allowance).
  const carol = await newUser(server, CAROL);
  try {
    const codes = await Promise.all(
      Array.from({ length: 10 }, () => sendRaw(alice, BOB, 100, { hinted: true })),
    );
    assert.equal(codes.filter((c) => c === "ok").length, 3, codes.join(","));
    assert.equal(codes.filter((c) => c === "rate_limited").length, 7);
    // Another account has its own allowance.
    const messageId = newMessageId();
    const sealed = await carol.session.messenger.seal(
      [ALICE],
      { kind: "text", text: "hi" },
      messageId,
    );
    await carol.session.rpc.request({
      t: "send",
      messageId,
      to: sealed.recipients,
      envelope: sealed.envelope,
    });
  } finally {
    alice.session.close();
    bob.session.close();
    carol.session.close();
    await server.stop();
  }
});

Deno.test("stored messages are held to --message-quota-bytes, in parallel and after a restart", async () => {
  const dataDir = await tempDir("ssp-server-");
  const store = await openEmbeddedStore(dataDir);
  const quota = 8000;
  const options = { store, messageQuotaBytes: quota, dataDir: `${dataDir}/server` };
  let server = await startTestServer(options);
  try {
    await newUser(server, BOB).then((bob) => bob.session.close());
    let alice = await newUser(server, ALICE);
    // 40 sends of ~1 KiB at once: the quota admits only what fits.
    const codes = await Promise.all(
      Array.from({ length: 40 }, () => sendRaw(alice, BOB, 1000, { hinted: true })),
    );
    const accepted = codes.filter((c) => c === "ok").length;
    assert.ok(accepted > 0 && accepted < 40, codes.join(","));
    assert.equal(codes.filter((c) => c === "over_message_quota").length, 40 - accepted);
    const stored = await store.storedMessageBytes(ALICE);
    assert.ok(stored <= quota, `${stored} bytes stored against a quota of ${quota}`);
    alice.session.close();
    await server.stop();
    // A restarted server reads the usage back from the store: still full.
    server = await startTestServer(options);
    alice = await userSession(server, ALICE);
    assert.equal(await sendRaw(alice, BOB, 1000, { hinted: true }), "over_message_quota");
    assert.equal(await store.storedMessageBytes(ALICE), stored);
    alice.session.close();
  } finally {
    await server.stop();
    await store.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a retried send takes no more of the message quota", async () => {
  const server = await startTestServer({ messageQuotaBytes: 3000 });
  await newUser(server, BOB).then((bob) => bob.session.close());
  const alice = await newUser(server, ALICE);
  try {
    const messageId = newMessageId();
    const { recipients, envelope } = await alice.session.messenger.seal(
      [BOB],
      { kind: "text", text: "x".repeat(1000) },
      messageId,
    );
    const send = { t: "send" as const, messageId, to: recipients, envelope };
    const first = await alice.session.rpc.request(send);
    const retry = await alice.session.rpc.request(send);
    assert.deepEqual([first.duplicate, retry.duplicate, retry.seq], [false, true, first.seq]);
    assert.equal(await server.store.storedMessageBytes(ALICE), envelope.length);
    // Had the retry kept its bytes, this one would not fit (2 × ~1.2 KB of 3000 already).
    assert.ok(envelope.length * 3 > 3000 && envelope.length * 2 <= 3000);
    assert.equal(await sendRaw(alice, BOB, 1000, { hinted: true }), "ok");
  } finally {
    alice.session.close();
    await server.stop();
  }
});
