/**
 * The contract every {@linkcode Store} must meet, as a suite of `Deno.test`
 * cases that use only the interface. The embedded SQLite store and the
 * MongoDB store both run it unchanged.
 *
 * @module
 */
import assert from "node:assert/strict";
import { until } from "../testing/mod.ts";
import type { AccountRecord, NewEnvelope, Store, StoredEnvelope } from "./types.ts";

/** A fresh, empty store and how to dispose of it. */
export interface StoreFixture {
  /** The store under test, empty. */
  store: Store;
  /** Closes the store (it may already be closed) and deletes its data. */
  cleanup(): Promise<void>;
}

const ALICE = "+15550000001";
const BOB = "+15550000002";
const CAROL = "+15550000003";
const DAVE = "+15550000004";

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

/** A complete account record for `phone`, its bytes derived from `seed`. */
export function account(phone: string, seed = 1): AccountRecord {
  return {
    phone,
    kdfSalt: bytes(16, seed),
    kdfParams: '{"alg":"argon2id","m":65536,"t":3,"p":1}',
    verifierSalt: bytes(16, seed + 1),
    verifier: bytes(32, seed + 2),
    encryptionKey: bytes(32, seed + 3),
    signingKey: bytes(32, seed + 4),
    keyBackup: bytes(120, seed + 5),
    createdAt: 1_700_000_000_000 + seed,
  };
}

/** An envelope from `sender` (idempotency key `clientId`) to `recipients`, in their conversation. */
export function envelope(sender: string, clientId: string, recipients: string[]): NewEnvelope {
  return {
    sender,
    clientId,
    recipients,
    conversation: [sender, ...recipients].filter((p, i, all) => all.indexOf(p) === i).sort()
      .join(","),
    body: new TextEncoder().encode(`${sender}/${clientId}`),
  };
}

function seqs(envelopes: StoredEnvelope[]): number[] {
  return envelopes.map((e) => e.seq);
}

/**
 * Registers the store contract as `Deno.test` cases named `${name}: …`.
 *
 * @param name Prefix of every test name, e.g. `"SqliteStore"`.
 * @param makeStore Returns a fresh, empty store for one test.
 */
export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  function test(title: string, body: (store: Store) => Promise<void>): void {
    Deno.test(`${name}: ${title}`, async () => {
      const { store, cleanup } = await makeStore();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    });
  }

  test("createAccount() stores an account that getAccount() returns byte for byte", async (s) => {
    const alice = account(ALICE);
    assert.equal(await s.createAccount(alice), true);
    assert.deepEqual(await s.getAccount(ALICE), alice);
    assert.equal(await s.getAccount(BOB), null);
  });

  test("createAccount() refuses a taken phone number and changes nothing", async (s) => {
    assert.equal(await s.createAccount(account(ALICE, 1)), true);
    assert.equal(await s.createAccount(account(ALICE, 50)), false);
    assert.deepEqual(await s.getAccount(ALICE), account(ALICE, 1));
  });

  test("updateCredentials() replaces credentials and backup but keeps the keys", async (s) => {
    const before = account(ALICE, 1);
    await s.createAccount(before);
    const next = account(ALICE, 90);
    const update = {
      kdfSalt: next.kdfSalt,
      kdfParams: '{"alg":"argon2id","m":131072,"t":4,"p":1}',
      verifierSalt: next.verifierSalt,
      verifier: next.verifier,
      keyBackup: next.keyBackup,
    };
    assert.equal(await s.updateCredentials(ALICE, update), true);
    assert.deepEqual(await s.getAccount(ALICE), { ...before, ...update });
    assert.equal(await s.updateCredentials(BOB, update), false);
    assert.equal(await s.getAccount(BOB), null);
  });

  test("getPublicKeys() returns the keys of only those phones that have accounts", async (s) => {
    await s.createAccount(account(ALICE, 1));
    await s.createAccount(account(BOB, 2));
    const keys = await s.getPublicKeys([BOB, CAROL, ALICE, BOB]);
    keys.sort((a, b) => a.phone.localeCompare(b.phone));
    assert.deepEqual(
      keys,
      [ALICE, BOB].map((phone, i) => {
        const a = account(phone, i + 1);
        return { phone, encryptionKey: a.encryptionKey, signingKey: a.signingKey };
      }),
    );
    assert.deepEqual(await s.getPublicKeys([CAROL]), []);
  });

  test("empty inputs return empty results", async (s) => {
    assert.deepEqual(await s.appendEnvelopes([]), []);
    assert.deepEqual(await s.getPublicKeys([]), []);
    assert.deepEqual(await s.mailbox(BOB, 0, 10), []);
    assert.deepEqual(await s.history(ALICE, `${ALICE},${BOB}`, { limit: 10 }), []);
  });

  test("appendEnvelopes() returns strictly increasing seqs in input order", async (s) => {
    const first = await s.appendEnvelopes([
      envelope(ALICE, "a1", [BOB]),
      envelope(ALICE, "a2", [BOB]),
      envelope(BOB, "b1", [ALICE]),
    ]);
    const second = await s.appendEnvelopes([envelope(CAROL, "c1", [ALICE])]);
    const all = [...first, ...second];
    assert.ok(all.every((r) => !r.duplicate && Number.isSafeInteger(r.seq) && r.seq > 0));
    for (let i = 1; i < all.length; i++) assert.ok(all[i]!.seq > all[i - 1]!.seq);
  });

  test("re-appending a (sender, clientId) returns the original seq as a duplicate", async (s) => {
    const [original] = await s.appendEnvelopes([envelope(ALICE, "m1", [BOB])]);
    const again = await s.appendEnvelopes([
      envelope(ALICE, "m1", [BOB]),
      envelope(BOB, "m1", [ALICE]), // same clientId, other sender: not a duplicate
    ]);
    assert.deepEqual(again[0], {
      seq: original!.seq,
      storedAt: original!.storedAt,
      duplicate: true,
    });
    assert.equal(again[1]!.duplicate, false);
    assert.deepEqual(seqs(await s.mailbox(BOB, 0, 10)), [original!.seq]);
  });

  test("a duplicate within one call is reported with the seq of its first copy", async (s) => {
    const results = await s.appendEnvelopes([
      envelope(ALICE, "m1", [BOB]),
      envelope(ALICE, "m2", [BOB]),
      envelope(ALICE, "m1", [BOB]),
    ]);
    assert.equal(results[0]!.duplicate, false);
    assert.equal(results[1]!.duplicate, false);
    assert.deepEqual(results[2], { ...results[0]!, duplicate: true });
    assert.equal((await s.mailbox(BOB, 0, 10)).length, 2);
  });

  test("50 concurrent appends of one clientId store it exactly once", async (s) => {
    const results = (await Promise.all(
      Array.from({ length: 50 }, () => s.appendEnvelopes([envelope(ALICE, "retry", [BOB])])),
    )).flat();
    assert.equal(results.filter((r) => !r.duplicate).length, 1);
    assert.equal(new Set(results.map((r) => r.seq)).size, 1);
    assert.deepEqual(seqs(await s.mailbox(BOB, 0, 100)), [results[0]!.seq]);
  });

  test("many concurrent appends each get their own seq", async (s) => {
    const results = (await Promise.all(
      Array.from({ length: 100 }, (_, i) => s.appendEnvelopes([envelope(ALICE, `m${i}`, [BOB])])),
    )).flat();
    assert.equal(new Set(results.map((r) => r.seq)).size, 100);
    assert.equal((await s.mailbox(BOB, 0, 1000)).length, 100);
  });

  test("mailbox() pages a recipient's envelopes oldest first", async (s) => {
    const acks = await s.appendEnvelopes([
      envelope(ALICE, "1", [BOB]),
      envelope(ALICE, "2", [CAROL]),
      envelope(CAROL, "3", [BOB, ALICE]),
      envelope(ALICE, "4", [BOB]),
      envelope(BOB, "5", [ALICE]),
      envelope(ALICE, "6", [BOB]),
    ]);
    const forBob = [0, 2, 3, 5].map((i) => acks[i]!.seq);
    assert.deepEqual(seqs(await s.mailbox(BOB, 0, 2)), forBob.slice(0, 2));
    assert.deepEqual(seqs(await s.mailbox(BOB, forBob[1]!, 2)), forBob.slice(2, 4));
    assert.deepEqual(seqs(await s.mailbox(BOB, forBob[3]!, 2)), []);
    assert.deepEqual(seqs(await s.mailbox(BOB, 0, 0)), []);
    assert.deepEqual(seqs(await s.mailbox(DAVE, 0, 10)), []);
  });

  test("stored envelopes round-trip every field exactly", async (s) => {
    const body = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);
    const sent: NewEnvelope[] = [
      { ...envelope(ALICE, "bin", [CAROL, BOB]), body },
      { ...envelope(ALICE, "empty", [BOB]), body: new Uint8Array(0) },
    ];
    const before = Date.now();
    const acks = await s.appendEnvelopes(sent);
    const got = await s.mailbox(BOB, 0, 10);
    assert.equal(got.length, 2);
    for (const [i, stored] of got.entries()) {
      assert.deepEqual(stored, { ...sent[i]!, seq: acks[i]!.seq, storedAt: acks[i]!.storedAt });
      assert.ok(stored.body instanceof Uint8Array);
      assert.ok(stored.storedAt >= before - 1000 && stored.storedAt <= Date.now() + 1000);
    }
    assert.deepEqual(await s.mailbox(CAROL, 0, 10), got.slice(0, 1));
  });

  test("appendEnvelopes() returns the storedAt that mailbox() and history() give back", async (s) => {
    const [first] = await s.appendEnvelopes([envelope(ALICE, "m1", [BOB])]);
    // Let the clock move on, so that a time taken again (not the stored one) would differ.
    await until(() => Date.now() > first!.storedAt + 1, { what: "the clock to advance" });
    const [second, again] = await s.appendEnvelopes([
      envelope(ALICE, "m2", [BOB]),
      envelope(ALICE, "m1", [BOB]),
    ]);
    assert.ok(second!.storedAt > first!.storedAt);
    assert.deepEqual(again, { ...first!, duplicate: true });
    const times = (items: StoredEnvelope[]) => items.map((e) => [e.seq, e.storedAt]);
    const expected = [[first!.seq, first!.storedAt], [second!.seq, second!.storedAt]];
    assert.deepEqual(times(await s.mailbox(BOB, 0, 10)), expected);
    assert.deepEqual(times(await s.history(ALICE, `${ALICE},${BOB}`, { limit: 10 })), expected);
  });

  test("history() shows a member the conversation's envelopes oldest first", async (s) => {
    const conversation = `${ALICE},${BOB}`;
    const acks = await s.appendEnvelopes([
      envelope(ALICE, "1", [BOB]),
      envelope(BOB, "2", [ALICE]),
      envelope(ALICE, "x", [CAROL]), // another conversation
      envelope(ALICE, "3", [BOB]),
      envelope(BOB, "4", [ALICE]),
      envelope(ALICE, "5", [BOB]),
    ]);
    const all = [0, 1, 3, 4, 5].map((i) => acks[i]!.seq);
    for (const member of [ALICE, BOB]) {
      assert.deepEqual(seqs(await s.history(member, conversation, { limit: 10 })), all);
    }
    // No bound: the newest `limit`, still oldest first.
    assert.deepEqual(seqs(await s.history(ALICE, conversation, { limit: 2 })), all.slice(3));
    // before: the newest `limit` below it.
    assert.deepEqual(
      seqs(await s.history(BOB, conversation, { before: all[3]!, limit: 2 })),
      all.slice(1, 3),
    );
    assert.deepEqual(seqs(await s.history(BOB, conversation, { before: all[0]!, limit: 2 })), []);
    // after: the oldest `limit` above it.
    assert.deepEqual(
      seqs(await s.history(ALICE, conversation, { after: all[0]!, limit: 2 })),
      all.slice(1, 3),
    );
    assert.deepEqual(seqs(await s.history(ALICE, conversation, { after: all[4]!, limit: 2 })), []);
    // Both bounds: only what lies strictly between them.
    assert.deepEqual(
      seqs(await s.history(ALICE, conversation, { after: all[0]!, before: all[4]!, limit: 10 })),
      all.slice(1, 4),
    );
    assert.deepEqual(seqs(await s.history(ALICE, conversation, { limit: 0 })), []);
  });

  test("history() returns nothing to someone outside the conversation", async (s) => {
    const conversation = `${ALICE},${BOB}`;
    await s.appendEnvelopes([envelope(ALICE, "1", [BOB]), envelope(BOB, "2", [ALICE])]);
    assert.deepEqual(await s.history(CAROL, conversation, { limit: 10 }), []);
    assert.deepEqual(await s.history(CAROL, conversation, { after: 0, limit: 10 }), []);
    assert.deepEqual(await s.history(CAROL, conversation, { before: 1e9, limit: 10 }), []);
  });

  test("history() in a group shows each member only what they sent or received", async (s) => {
    const group = `${ALICE},${BOB},${CAROL}`;
    const acks = await s.appendEnvelopes([
      { ...envelope(ALICE, "1", [BOB, CAROL]), conversation: group },
      { ...envelope(ALICE, "2", [BOB]), conversation: group }, // Carol left out
      { ...envelope(CAROL, "3", [ALICE, BOB]), conversation: group },
    ]);
    const [one, two, three] = acks.map((a) => a.seq);
    assert.deepEqual(seqs(await s.history(CAROL, group, { limit: 10 })), [one, three]);
    assert.deepEqual(seqs(await s.history(BOB, group, { limit: 10 })), [one, two, three]);
  });

  test("storedMessageBytes() sums the bodies a sender stored, duplicates once", async (s) => {
    assert.equal(await s.storedMessageBytes(ALICE), 0);
    const big = { ...envelope(ALICE, "big", [BOB]), body: new Uint8Array(70_000) };
    await s.appendEnvelopes([envelope(ALICE, "1", [BOB]), big, envelope(BOB, "2", [ALICE])]);
    await s.appendEnvelopes([envelope(ALICE, "1", [BOB])]); // a retry stores nothing new
    const small = envelope(ALICE, "1", [BOB]).body.length;
    assert.equal(await s.storedMessageBytes(ALICE), small + 70_000);
    assert.equal(await s.storedMessageBytes(BOB), envelope(BOB, "2", [ALICE]).body.length);
    assert.equal(await s.storedMessageBytes(CAROL), 0);
  });

  test("the delivered cursor starts at 0 and never moves backwards", async (s) => {
    assert.equal(await s.getDeliveredSeq(BOB), 0);
    await s.setDeliveredSeq(BOB, 5);
    assert.equal(await s.getDeliveredSeq(BOB), 5);
    await s.setDeliveredSeq(BOB, 3);
    assert.equal(await s.getDeliveredSeq(BOB), 5);
    await s.setDeliveredSeq(BOB, 9);
    assert.equal(await s.getDeliveredSeq(BOB), 9);
    assert.equal(await s.getDeliveredSeq(ALICE), 0);
  });

  test("close() lets an append already in flight commit", async (s) => {
    const pending = s.appendEnvelopes([envelope(ALICE, "last", [BOB])]);
    await s.close();
    const [ack] = await pending;
    assert.equal(ack!.duplicate, false);
  });
}
