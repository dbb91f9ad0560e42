/**
 * What a hostile server, a network attacker or a password guesser can do to
 * accounts and messages, against a real server on the embedded store. The
 * "server" attacks act on the store directly, as a compromised server would.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { connect, RpcConnection, ServerError } from "../lib/client/mod.ts";
import { generateIdentityKeys, sealEnvelope } from "../lib/e2e/mod.ts";
import { newMessageId } from "../lib/protocol/mod.ts";
import { SspError } from "../lib/errors.ts";
import { until } from "../lib/testing/mod.ts";
import { afterAppend, startTestServer, tempDir, type TestServer } from "./harness.ts";
import { newUser, textsOf, userSession } from "./users.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const NOBODY = "+12015550199";

async function rawRpc(server: TestServer): Promise<RpcConnection> {
  const { channel } = await connect({ server: server.address, dataDir: await tempDir() });
  return new RpcConnection(channel);
}

async function loginError(rpc: RpcConnection, phone: string): Promise<ServerError> {
  const authKey = crypto.getRandomValues(new Uint8Array(32));
  const error = await rpc.request({ t: "login", phone, authKey }).then(
    () => assert.fail("login with a random key succeeded"),
    (e) => e,
  );
  assert.ok(error instanceof ServerError);
  return error;
}

Deno.test("an unknown number and a wrong password look the same to the client", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  alice.session.close();
  const rpc = await rawRpc(server);
  try {
    const known = await rpc.request({ t: "prelogin", phone: ALICE });
    const unknown = await rpc.request({ t: "prelogin", phone: NOBODY });
    const again = await rpc.request({ t: "prelogin", phone: NOBODY });
    assert.equal(unknown.kdf, known.kdf);
    assert.equal(unknown.salt.length, known.salt.length);
    assert.deepEqual(unknown.salt, again.salt, "the fake salt is stable");
    const wrong = await loginError(rpc, ALICE);
    const missing = await loginError(rpc, NOBODY);
    assert.equal(wrong.code, "auth_failed");
    assert.equal(missing.code, wrong.code);
    assert.equal(missing.message, wrong.message);
  } finally {
    rpc.close();
    await server.stop();
  }
});

Deno.test("a burst of wrong passwords backs the number off for new devices, even with the right password", async () => {
  // The throttle's clock stands still, so the 1 s block cannot run out while the client
  // derives its key (scrypt) on a busy machine.
  const frozen = Date.now();
  const server = await startTestServer({ accountLimits: { now: () => frozen } });
  const alice = await newUser(server, ALICE);
  alice.session.close();
  const rpc = await rawRpc(server);
  try {
    const codes = [];
    for (let i = 0; i < 12; i++) codes.push((await loginError(rpc, ALICE)).code);
    assert.deepEqual(codes.slice(0, 5), Array(5).fill("auth_failed"));
    assert.ok(codes.slice(6).every((c) => c === "rate_limited"), codes.join(","));
    const limited = await loginError(rpc, ALICE);
    assert.ok((limited.retryAfterMs ?? 0) > 0);
    assert.match(limited.message, /too many failed logins; try again in \d+ s/);
    // A device that never logged in to this number (a known device is exempt: §6.9,
    // tests/login_throttle_test.ts).
    await assert.rejects(
      userSession(server, ALICE),
      (e: unknown) => e instanceof SspError && e.code === "rate_limited",
    );
  } finally {
    rpc.close();
    await server.stop();
  }
});

/** Envelopes addressed to `phone`, as the server stored them. */
async function mailboxOf(server: TestServer, phone: string) {
  return await server.store.mailbox(phone, 0, 100);
}

Deno.test("a tampered envelope, a forged sender and a replay are refused by the recipient", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  const mallory = await newUser(server, "+12015550166");
  bob.session.close();
  try {
    await alice.session.messenger.send([BOB], { kind: "text", text: "genuine" });
    const [genuine] = await mailboxOf(server, BOB);
    const stored = { sender: ALICE, recipients: [BOB], conversation: [ALICE, BOB].join(",") };
    // 1. The server flips one byte of the stored envelope.
    const tampered = genuine!.body.slice();
    tampered[Math.floor(tampered.length / 2)]! ^= 0x40;
    // 2. Mallory signs an envelope that claims to come from Alice.
    const [bobKeys] = await server.store.getPublicKeys([BOB]);
    const forged = await sealEnvelope({
      id: newMessageId(),
      from: ALICE,
      to: [BOB],
      timestamp: Date.now(),
      content: { kind: "text", text: "send me your password" },
      signingKey: mallory.session.account.keys.signing.privateKeyPkcs8,
      recipients: [
        { phone: BOB, encryptionKey: bobKeys!.encryptionKey },
        { phone: ALICE, encryptionKey: (await generateIdentityKeys()).encryption.publicKey },
      ],
    });
    // 3. The server stores Alice's genuine envelope a second time.
    await server.store.appendEnvelopes([
      { ...stored, clientId: "a".repeat(32), body: tampered },
      { ...stored, clientId: "b".repeat(32), body: forged },
      { ...stored, clientId: "c".repeat(32), body: genuine!.body },
    ]);
    const back = await userSession(server, BOB, { dataDir: bob.dataDir });
    assert.deepEqual(textsOf(await back.texts(1)), ["genuine"]);
    const refused = await back.refusals(3);
    assert.deepEqual(refused.map((r) => r.error.code), [
      "bad_signature",
      "bad_signature",
      "replayed",
    ]);
    assert.ok(refused.every((r) => r.from === ALICE || r.from === undefined));
    assert.equal(textsOf(back.received).length, 1, "nothing refused is shown");
    back.session.close();
  } finally {
    alice.session.close();
    mallory.session.close();
    await server.stop();
  }
});

Deno.test("a key substituted by the server is flagged: sending stops, messages are unverified", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  try {
    await bob.session.messenger.send([ALICE], { kind: "text", text: "hi" }); // Bob pins Alice's key
    await alice.texts(1);
    // The server swaps Alice's public keys for its own in the directory.
    const fake = await generateIdentityKeys();
    const db = new DatabaseSync(`${server.dataDir}/ssp.db`);
    db.prepare("UPDATE accounts SET signing_key = ?, encryption_key = ? WHERE phone = ?")
      .run(fake.signing.publicKey, fake.encryption.publicKey, ALICE);
    db.close();
    const refreshed = await userSession(server, BOB, { dataDir: bob.dataDir });
    await assert.rejects(
      refreshed.session.messenger.send([ALICE], { kind: "text", text: "secret" }),
      (e: unknown) =>
        e instanceof SspError && e.code === "key_changed" && /verify/.test(e.hint ?? ""),
    );
    const contact = refreshed.session.state.contact(ALICE)!;
    assert.equal(contact.status, "changed");
    // A message signed with the substituted key is shown, but marked unverified.
    const [bobKeys] = await server.store.getPublicKeys([BOB]);
    const envelope = await sealEnvelope({
      id: newMessageId(),
      from: ALICE,
      to: [BOB],
      timestamp: Date.now(),
      content: { kind: "text", text: "it's me, really" },
      signingKey: fake.signing.privateKeyPkcs8,
      recipients: [
        { phone: BOB, encryptionKey: bobKeys!.encryptionKey },
        { phone: ALICE, encryptionKey: fake.encryption.publicKey },
      ],
    });
    await server.store.appendEnvelopes([{
      sender: ALICE,
      clientId: "d".repeat(32),
      recipients: [BOB],
      conversation: [ALICE, BOB].join(","),
      body: envelope,
    }]);
    refreshed.session.close();
    const later = await userSession(server, BOB, { dataDir: bob.dataDir });
    const [message] = await later.texts(1);
    assert.equal(message!.verified, false);
    // After comparing safety numbers, the user accepts the new key and can send again.
    later.session.messenger.acceptKey(ALICE);
    assert.equal(later.session.state.contact(ALICE)!.status, "trusted");
    later.session.close();
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("a send retried after a dropped connection is stored and delivered exactly once", async () => {
  // While `held` is set, the server commits a message but acknowledges it only once released.
  let held: Promise<void> | null = null;
  const server = await startTestServer({
    wrapStore: (store) => afterAppend(store, async () => void await held),
  });
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  try {
    const id = newMessageId();
    const release = Promise.withResolvers<void>();
    held = release.promise;
    const first = alice.session.messenger.send([BOB], { kind: "text", text: "only once" }, id);
    // The message is stored, then the connection drops before the acknowledgement is sent.
    await until(async () => (await mailboxOf(server, BOB)).some((e) => e.clientId === id), {
      what: "the first send to be stored",
    });
    alice.session.close();
    await assert.rejects(first, "the first send was never acknowledged");
    held = null;
    release.resolve();
    const retry = await userSession(server, ALICE, { dataDir: alice.dataDir });
    const result = await retry.session.messenger.send(
      [BOB],
      { kind: "text", text: "only once" },
      id,
    );
    const again = await retry.session.messenger.send(
      [BOB],
      { kind: "text", text: "only once" },
      id,
    );
    assert.equal(again.duplicate, true);
    assert.equal(again.seq, result.seq);
    await retry.session.messenger.send([BOB], { kind: "text", text: "after" });
    assert.deepEqual(textsOf(await bob.texts(2)), ["only once", "after"]);
    const stored = (await mailboxOf(server, BOB)).filter((e) => e.clientId === id);
    assert.equal(stored.length, 1);
    retry.session.close();
  } finally {
    bob.session.close();
    await server.stop();
  }
});
