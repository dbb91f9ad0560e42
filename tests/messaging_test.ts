/**
 * Accounts and end-to-end encrypted messaging against a real server on the
 * embedded store: live and offline delivery, order, history on a second
 * device, and what the server keeps.
 */
import assert from "node:assert/strict";
import { SspError } from "../lib/errors.ts";
import { until } from "../lib/testing/mod.ts";
import { walk } from "./walk.ts";
import { afterAppend, startTestServer } from "./harness.ts";
import { newUser, PASSWORD, textsOf, userSession } from "./users.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";
const CAROL = "+12015550103";

Deno.test("two clients exchange messages live, in order, both ways", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  try {
    const sent = Array.from({ length: 20 }, (_, i) => `hello ${i}`);
    await Promise.all(
      sent.map((text) => alice.session.messenger.send([BOB], { kind: "text", text })),
    );
    assert.deepEqual(textsOf(await bob.texts(20)), sent);
    const seqs = bob.received.filter((m) => m.content.kind === "text").map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.ok(bob.received.every((m) => m.verified && m.from === ALICE));

    await bob.session.messenger.send([ALICE], { kind: "text", text: "hi alice" });
    const [reply] = await alice.texts(1);
    assert.equal(reply!.content.kind === "text" && reply!.content.text, "hi alice");
    assert.deepEqual(reply!.with, [BOB]);
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("a group message reaches every member, and delivery receipts come back", async () => {
  const server = await startTestServer();
  const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((p) => newUser(server, p)));
  try {
    const { id } = await alice!.session.messenger.send([BOB, CAROL], {
      kind: "text",
      text: "team",
    });
    for (const member of [bob!, carol!]) {
      const [message] = await member.texts(1);
      assert.equal(message!.id, id);
      assert.deepEqual(message!.with, member === bob ? [ALICE, CAROL] : [ALICE, BOB]);
    }
    // Each recipient's client answers with an end-to-end "delivered" receipt.
    const receipts = () =>
      alice!.received.filter((m) =>
        m.content.kind === "receipt" && m.content.receipt === "delivered" &&
        m.content.ids.includes(id)
      );
    await until(() => receipts().length >= 2, { what: "Bob's and Carol's delivered receipts" });
    assert.equal(receipts().length, 2);
  } finally {
    for (const u of [alice, bob, carol]) u!.session.close();
    await server.stop();
  }
});

Deno.test("a message pushed live carries its stored time, the same that history shows", async () => {
  // Each acknowledgement waits until the clock has passed the commit time, so a push that took
  // the time again, instead of passing on the stored one, would show a later time.
  const server = await startTestServer({
    wrapStore: (store) =>
      afterAppend(store, async (results) => {
        const latest = Math.max(...results.map((r) => r.storedAt));
        await until(() => Date.now() > latest, { what: "the clock to pass the commit time" });
      }),
  });
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  try {
    const { id } = await alice.session.messenger.send([BOB], { kind: "text", text: "when?" });
    const [live] = await bob.texts(1);
    assert.equal(live!.id, id);
    const page = await bob.session.messenger.history([ALICE], { limit: 10 });
    const stored = page.flatMap((i) => "message" in i && i.message.id === id ? [i.message] : []);
    assert.equal(stored.length, 1);
    assert.equal(live!.storedAt, stored[0]!.storedAt);
    assert.equal(live!.seq, stored[0]!.seq);
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("messages to an offline user are delivered, in order, at the next login", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  bob.session.close();
  try {
    for (let i = 0; i < 5; i++) {
      await alice.session.messenger.send([BOB], { kind: "text", text: `while you were out ${i}` });
    }
    const back = await userSession(server, BOB, { dataDir: bob.dataDir });
    assert.deepEqual(
      textsOf(await back.texts(5)),
      [0, 1, 2, 3, 4].map((i) => `while you were out ${i}`),
    );
    back.session.close();
    // Delivered (acknowledged) messages are not delivered again at the login after.
    const again = await userSession(server, BOB, { dataDir: bob.dataDir });
    await alice.session.messenger.send([BOB], { kind: "text", text: "new one" });
    assert.deepEqual(textsOf(await again.texts(1)), ["new one"]);
    again.session.close();
  } finally {
    alice.session.close();
    await server.stop();
  }
});

Deno.test("history is readable from a second device after logging in with the password", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  try {
    await alice.session.messenger.send([BOB], { kind: "text", text: "first" });
    await bob.session.messenger.send([ALICE], { kind: "text", text: "second" });
    await alice.session.messenger.send([BOB], { kind: "text", text: "third" });
    const laptop = await userSession(server, ALICE); // fresh data dir: nothing local
    const page = await laptop.session.messenger.history([BOB], { limit: 50 });
    const texts = page.flatMap((i) =>
      "message" in i && i.message.content.kind === "text" ? [i.message.content.text] : []
    );
    assert.deepEqual(texts, ["first", "second", "third"]);
    assert.ok(page.every((i) => "message" in i && i.message.verified));
    // Paging: the newest two, then what came before them.
    const newest = await laptop.session.messenger.history([BOB], { limit: 2 });
    const firstSeq = Math.min(...newest.map((i) => "message" in i ? i.message.seq : 0));
    const older = await laptop.session.messenger.history([BOB], { limit: 50, before: firstSeq });
    assert.ok(older.length >= 1 && older.every((i) => "message" in i && i.message.seq < firstSeq));
    laptop.session.close();
  } finally {
    alice.session.close();
    bob.session.close();
    await server.stop();
  }
});

Deno.test("the server's data dir contains no message text and no password", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  const secrets = ["the eagle lands at midnight", "meet me by the old oak tree"];
  try {
    for (const text of secrets) await alice.session.messenger.send([BOB], { kind: "text", text });
    await bob.texts(2);
  } finally {
    alice.session.close();
    bob.session.close();
    await server.server.shutdown();
  }
  await server.store.close(); // flush the WAL into the database file too
  const needles = [...secrets, PASSWORD].map((s) => new TextEncoder().encode(s));
  let scanned = 0;
  for await (const file of walk(server.dataDir)) {
    const bytes = await Deno.readFile(file);
    scanned += bytes.length;
    for (const needle of needles) {
      assert.equal(
        indexOf(bytes, needle),
        -1,
        `${file} contains "${new TextDecoder().decode(needle)}"`,
      );
    }
  }
  assert.ok(scanned > 0);
  await Deno.remove(server.dataDir, { recursive: true });
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("a graceful shutdown keeps every acknowledged message and refuses new work", async () => {
  const server = await startTestServer();
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  bob.session.close();
  const sends = Array.from(
    { length: 200 },
    (_, i) => alice.session.messenger.send([BOB], { kind: "text", text: `m${i}` }),
  );
  const settled = Promise.allSettled(sends); // handles every rejection from the start
  await sends[10]; // the rest are in flight or not yet sent
  await server.server.shutdown();
  const results = await settled;
  const acked = results.flatMap((r) => r.status === "fulfilled" ? [r.value.seq] : []);
  const stored = new Set((await server.store.mailbox(BOB, 0, 1000)).map((e) => e.seq));
  for (const seq of acked) assert.ok(stored.has(seq), `acknowledged seq ${seq} is stored`);
  assert.ok(results.some((r) => r.status === "rejected"), "work after the shutdown is refused");
  alice.session.close();
  await server.stop();
});

Deno.test("an over-limit message and an unknown recipient are refused with clear errors", async () => {
  const server = await startTestServer({ maxEnvelopeBytes: 2048 });
  const alice = await newUser(server, ALICE);
  await newUser(server, BOB).then((bob) => bob.session.close());
  try {
    await assert.rejects(
      alice.session.messenger.send([BOB], { kind: "text", text: "x".repeat(3000) }),
      (e: unknown) =>
        e instanceof SspError && e.code === "message_too_large" && /2048/.test(e.message),
    );
    await assert.rejects(
      alice.session.messenger.send(["+12015550177"], { kind: "text", text: "hello?" }),
      (e: unknown) => e instanceof SspError && e.code === "unknown_recipient",
    );
    // The connection is still usable after both refusals.
    const ok = await alice.session.messenger.send([BOB], { kind: "text", text: "short" });
    assert.equal(ok.duplicate, false);
  } finally {
    alice.session.close();
    await server.stop();
  }
});
