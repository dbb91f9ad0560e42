/**
 * Several servers over one store: three in-process servers, each with its own
 * MongoStore and MongoFileStore on one FerretDB database (started once for
 * this file by scripts/ferretdb.ts) and its own connection to a private
 * nats-server (scripts/nats.ts, on a free port, so a test can stop it).
 * Users are spread over the servers. Never skipped: if FerretDB or
 * nats-server cannot start, loading this file fails the run.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, getFile, RpcConnection, sendFile, ServerError } from "../lib/client/mod.ts";
import { NUMBER_POLICY } from "../lib/server/mod.ts";
import { DEFAULT_CHUNK_BYTES } from "../lib/e2e/mod.ts";
import { startFerretDb } from "../scripts/ferretdb.ts";
import { startNats } from "../scripts/nats.ts";
import type { ReceivedMessage } from "../lib/client/mod.ts";
import { type ClusterSetup, withCluster as withClusterOn } from "./cluster.ts";
import { tempDir, type TestServer } from "./harness.ts";
import { until, within } from "../lib/testing/mod.ts";
import { newUser, type TestUser, textsOf, userSession } from "./users.ts";

const ferret = await startFerretDb();
const nats = await startNats();

const ALICE = "+12015550101";
const BOB = "+12015550102";
const CAROL = "+12015550103";

const backends = { mongoUrl: ferret.url, natsUrl: nats.url };

/** `withCluster` on this file's FerretDB and nats-server. */
function withCluster(
  options: ClusterSetup,
  body: (servers: TestServer[], users: TestUser[]) => Promise<void>,
): Promise<void> {
  return withClusterOn(backends, options, body);
}

function receipts(user: TestUser): string[] {
  return user.received.flatMap((m) =>
    m.content.kind === "receipt" && m.content.receipt === "delivered" ? m.content.ids : []
  );
}

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "three servers on one store: live delivery, receipts, offline delivery and history " +
    "across servers",
  ...options,
  async fn() {
    await withCluster({}, async ([s0, s1, s2], users) => {
      const alice = await newUser(s0!, ALICE);
      const bob = await newUser(s1!, BOB);
      users.push(alice, bob);
      const live = ["one", "two", "three", "four", "five"];
      const ids: string[] = [];
      for (const text of live) {
        ids.push((await alice.session.messenger.send([BOB], { kind: "text", text })).id);
      }
      assert.deepEqual(
        textsOf(await within(bob.texts(5), { what: "live delivery", deadlineMs: 10_000 })),
        live,
      );
      // Bob's client answers each with a delivery receipt, relayed back to server 0.
      await until(() => receipts(alice).length >= 5, { what: "receipts", deadlineMs: 10_000 });
      assert.deepEqual(receipts(alice).sort(), [...ids].sort());

      bob.session.close();
      users.pop();
      const offline = ["while you were out 1", "while you were out 2"];
      for (const text of offline) await alice.session.messenger.send([BOB], { kind: "text", text });
      const back = await userSession(s2!, BOB, { dataDir: bob.dataDir });
      users.push(back);
      assert.deepEqual(
        textsOf(await within(back.texts(2), { what: "offline delivery", deadlineMs: 10_000 })),
        offline,
      );

      const page = await back.session.messenger.history([ALICE], { limit: 50 });
      const texts = page.flatMap((i) =>
        "message" in i && i.message.content.kind === "text" ? [i.message.content.text] : []
      );
      assert.deepEqual(texts, [...live, ...offline]);
    });
  },
});

Deno.test({
  name: "three servers on one store: concurrent senders on different servers reach a " +
    "recipient logged in on two servers, each message once and in one order",
  ...options,
  async fn() {
    await withCluster({}, async ([s0, s1, s2], users) => {
      const alice = await newUser(s0!, ALICE);
      const bob = await newUser(s1!, BOB);
      const carol = await newUser(s2!, CAROL);
      const carolOn0 = await userSession(s0!, CAROL); // a second device, on another server
      users.push(alice, bob, carol, carolOn0);
      const COUNT = 30;
      const sent = (from: TestUser, tag: string) =>
        (async () => {
          for (let i = 0; i < COUNT; i++) {
            await from.session.messenger.send([CAROL], { kind: "text", text: `${tag} ${i}` });
          }
        })();
      await within(Promise.all([sent(alice, "a"), sent(bob, "b")]), {
        what: "sending",
        deadlineMs: 60_000,
      });

      // Delivery is in seq order, so a message delivered twice would come before this one.
      await alice.session.messenger.send([CAROL], { kind: "text", text: "end" });

      for (const device of [carol, carolOn0]) {
        const got: ReceivedMessage[] = await within(device.texts(2 * COUNT + 1), {
          what: "delivery to every device",
          deadlineMs: 20_000,
        });
        const texts = textsOf(got);
        assert.equal(texts.length, 2 * COUNT + 1, "a message arrived twice");
        assert.equal(texts.at(-1), "end");
        const seqs = got.map((m) => m.seq);
        assert.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!), "out of seq order");
        for (const tag of ["a", "b"]) {
          assert.deepEqual(
            texts.filter((t) => t.startsWith(`${tag} `)),
            Array.from({ length: COUNT }, (_, i) => `${tag} ${i}`),
          );
        }
      }
    });
  },
});

Deno.test({
  name: "two servers on one store: with the bus stopped, messages are acknowledged and " +
    "arrive once it is back, none lost or duplicated",
  ...options,
  async fn() {
    await withCluster({ count: 2 }, async ([s0, s1], users) => {
      const alice = await newUser(s0!, ALICE);
      const bob = await newUser(s1!, BOB);
      users.push(alice, bob);
      await alice.session.messenger.send([BOB], { kind: "text", text: "before" });
      await within(bob.texts(1), { what: "live delivery before the outage", deadlineMs: 10_000 });

      await nats.halt();
      try {
        for (const text of ["during 1", "during 2"]) {
          await alice.session.messenger.send([BOB], { kind: "text", text });
        }
      } finally {
        await nats.restart();
      }
      // No poll before the test's end: only the wake-up after the reconnect delivers these.
      assert.deepEqual(
        textsOf(
          await within(bob.texts(3), {
            what: "delivery after the bus is back",
            deadlineMs: 15_000,
          }),
        ),
        ["before", "during 1", "during 2"],
      );
      await alice.session.messenger.send([BOB], { kind: "text", text: "after" });
      await within(bob.texts(4), { what: "live delivery after the outage", deadlineMs: 10_000 });
      assert.deepEqual(textsOf(bob.received), ["before", "during 1", "during 2", "after"]);
    });
  },
});

Deno.test({
  name: "servers sharing a store without a bus deliver each other's messages at the next poll",
  ...options,
  async fn() {
    await withCluster({
      count: 2,
      bus: false,
      pollIntervalMs: 200,
    }, async ([s0, s1], users) => {
      const alice = await newUser(s0!, ALICE);
      const bob = await newUser(s1!, BOB);
      users.push(alice, bob);
      for (const text of ["x", "y"]) {
        await alice.session.messenger.send([BOB], { kind: "text", text });
      }
      assert.deepEqual(
        textsOf(await within(bob.texts(2), { what: "delivery by poll", deadlineMs: 10_000 })),
        ["x", "y"],
      );
    });
  },
});

Deno.test({
  name: "a recipient on another server fetches a file while the upload is still running",
  ...options,
  async fn() {
    const src = await tempDir();
    const dst = await tempDir();
    try {
      await withCluster({ count: 2 }, async ([s0, s1], users) => {
        const alice = await newUser(s0!, ALICE);
        const bob = await newUser(s1!, BOB);
        users.push(alice, bob);
        const path = `${src}/live.bin`;
        const bytes = new Uint8Array(randomBytes(64 * DEFAULT_CHUNK_BYTES));
        await Deno.writeFile(path, bytes);
        const upload = sendFile(alice.session, path, [BOB]);
        await until(() => bob.received.some((m) => m.content.kind === "file"), {
          what: "the file's announcement",
          deadlineMs: 20_000,
        });
        const announced = bob.received.find((m) => m.content.kind === "file")!.content;
        assert.ok(announced.kind === "file");
        const download = getFile(bob.session, announced.fileId, dst);
        const [, got] = await within(Promise.all([upload, download]), {
          what: "upload and download",
          deadlineMs: 60_000,
        });
        assert.deepEqual(await Deno.readFile(got.path), bytes);
      });
    } finally {
      await Deno.remove(src, { recursive: true });
      await Deno.remove(dst, { recursive: true });
    }
  },
});

Deno.test({
  name: "wrong logins spread over three servers get one server's allowance, not three",
  ...options,
  async fn() {
    const frozen = Date.now(); // no block runs out while the test runs
    await withCluster({ now: () => frozen }, async (servers, users) => {
      const owner = await newUser(servers[0]!, ALICE);
      users.push(owner);
      // 10 connections to each server, each sending one wrong password, all at once.
      const dataDir = await tempDir();
      const rpcs: RpcConnection[] = [];
      for (let i = 0; i < 30; i++) {
        const { channel } = await connect({ server: servers[i % 3]!.address, dataDir });
        rpcs.push(new RpcConnection(channel));
      }
      try {
        const codes = await Promise.all(rpcs.map(async (rpc) => {
          const authKey = crypto.getRandomValues(new Uint8Array(32));
          const error = await rpc.request({ t: "login", phone: ALICE, authKey })
            .then(() => assert.fail("a random auth key was accepted"), (e: unknown) => e);
          assert.ok(error instanceof ServerError, String(error));
          return error.code;
        }));
        // NUMBER_POLICY: 5 free failures and the one that earns the first delay, over all servers.
        const allowed = NUMBER_POLICY.freeFailures + 1;
        assert.equal(codes.filter((c) => c === "auth_failed").length, allowed, codes.join(","));
        assert.equal(codes.filter((c) => c === "rate_limited").length, 30 - allowed);
        // The owner's known device is not held back by the number's budget (its token is
        // from server 0: these test servers have identities, and so token keys, of their own).
        const again = await userSession(servers[0]!, ALICE, { dataDir: owner.dataDir });
        users.push(again);
      } finally {
        for (const rpc of rpcs) rpc.close();
      }
    });
  },
});
