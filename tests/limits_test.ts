/**
 * Connection and memory limits against a real server: one client cannot take
 * every slot, hold a connection without logging in, make the server keep
 * large buffers or queues, or start unbounded downloads; real clients keep
 * being served and nothing is lost.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { connect, listFiles, sendFile } from "../lib/client/mod.ts";
import { namedGroup } from "../lib/crypto/mod.ts";
import { decodeMessage, encodeFrameHeader, encodeMessage, FrameReader } from "../lib/wire/mod.ts";
import { Alert } from "../lib/handshake/mod.ts";
import { decodeServerMessage } from "../lib/protocol/mod.ts";
import { SspError } from "../lib/errors.ts";
import type { SecureChannel } from "../lib/channel/mod.ts";
import type { LogFields } from "../lib/server/mod.ts";
import { chunkedSource, until, within } from "../lib/testing/mod.ts";
import { startFrameProxy } from "./frame_proxy.ts";
import { readUntilClosed, startTestServer, tempDir, type TestServer } from "./harness.ts";
import { spawnServer, stopServer } from "./programs.ts";
import { newUser, textsOf, userSession } from "./users.ts";

const ALICE = "+12015550101";
const BOB = "+12015550102";

/** Waits until `count` logged events match; returns them. */
async function events(server: TestServer, count: number, match: (e: LogFields) => boolean) {
  await until(() => server.events.filter(match).length >= count, {
    what: `${count} matching server events`,
  });
  return server.events.filter(match);
}

/** A raw TCP connection from another loopback address (another "client host"). */
function connectFrom(localAddress: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    socket.on("connect", () => resolve(socket));
    socket.on("error", reject);
  });
}

/** Reads sealed records until the server's alert; returns its code. */
async function serverAlert(channel: SecureChannel): Promise<string> {
  for (;;) {
    const body = await channel.receive();
    if (body === null) return "closed without alert";
    const message = decodeServerMessage(body);
    if (message.t === "alert") return message.code;
  }
}

Deno.test("idle connections from one address take only that address's slots: a real client is served", async () => {
  const server = await startTestServer({ maxConnections: 8, maxConnectionsPerAddress: 4 });
  const flood: net.Socket[] = [];
  try {
    for (let i = 0; i < 20; i++) flood.push(await connectFrom("127.0.0.2", server.port));
    await events(server, 20, (e) => e.event === "connected" || e.event === "refused");
    const alice = await newUser(server, ALICE);
    await alice.session.messenger.send([ALICE], { kind: "text", text: "still served" });
    alice.session.close();
    const evicted = server.events.filter((e) => e.event === "evicted").length;
    assert.equal(
      evicted,
      16,
      "each new idle connection from the flooding address took its own oldest",
    );
  } finally {
    for (const socket of flood) socket.destroy();
    await server.stop();
  }
});

Deno.test("when every slot holds a connection that has not logged in, the oldest makes room", async () => {
  const server = await startTestServer({ maxConnections: 4 });
  const idle: SecureChannel[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      idle.push((await connect({ server: server.address, dataDir: await tempDir() })).channel);
    }
    const alice = await newUser(server, ALICE); // needs a slot: the handshaken-but-idle hold them all
    assert.equal(await within(serverAlert(idle[0]!), { what: "the evicted alert" }), "evicted");
    await alice.session.messenger.send([ALICE], { kind: "text", text: "served" });
    alice.session.close();
  } finally {
    for (const channel of idle) channel.close();
    await server.stop();
  }
});

Deno.test("a connection that never logs in is closed at the login deadline, even while it pings", async () => {
  const server = await startTestServer({ loginTimeoutMs: 300, idleTimeoutMs: 60_000 });
  const { channel } = await connect({ server: server.address, dataDir: await tempDir() });
  const pinging = setInterval(() => {
    channel.send(encodeMessage({ t: "ping", id: 1 })).catch(() => {});
  }, 50);
  try {
    assert.equal(
      await within(serverAlert(channel), { what: "the login_timeout alert" }),
      "login_timeout",
    );
  } finally {
    clearInterval(pinging);
    channel.close();
    await server.stop();
  }
});

Deno.test("a slowloris that stalls after a frame header is closed at the login deadline", async () => {
  const server = await startTestServer({ loginTimeoutMs: 300, handshakeTimeoutMs: 60_000 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(encodeFrameHeader(1000)); // a client_hello that never comes
    const reply = await within(readUntilClosed(conn), { what: "the server to close" });
    const frame = await new FrameReader(chunkedSource(reply, [reply.length])).read();
    assert.deepEqual(
      decodeMessage(Alert, frame!.body, "alert"),
      {
        t: "alert",
        code: "login_timeout",
        message: "not logged in within 300 ms of connecting; reconnect and log in",
      },
    );
  } finally {
    conn.close();
    await server.stop();
  }
});

Deno.test("before login, a frame over the pre-login limit is refused; after login it passes", async () => {
  const server = await startTestServer({ maxPreloginFrameBytes: 16 * 1024 });
  const { channel } = await connect({ server: server.address, dataDir: await tempDir() });
  try {
    // A ping with an ignored 100 KiB field: nothing before login needs a frame that large.
    await channel.send(encodeMessage({ t: "ping", id: 1, pad: new Uint8Array(100 * 1024) }));
    assert.equal(
      await within(serverAlert(channel), { what: "the frame_too_large alert" }),
      "frame_too_large",
    );
    const [event] = await events(server, 1, (e) => e.event === "connection_failed");
    assert.match(String(event!.message), /exceeds the limit of 16384 bytes before login/);

    const alice = await newUser(server, ALICE);
    const text = "x".repeat(50 * 1024);
    await alice.session.messenger.send([ALICE], { kind: "text", text });
    assert.equal(
      textsOf(await within(alice.texts(1), { what: "the message to herself" }))[0],
      text,
    );
    alice.session.close();
  } finally {
    channel.close();
    await server.stop();
  }
});

Deno.test("a session that never reads is paused, then dropped, and gets every message at its next login", async () => {
  const maxQueuedBytes = 64 * 1024;
  const server = await startTestServer({ maxQueuedBytes, writeTimeoutMs: 500 });
  const alice = await newUser(server, ALICE);
  await newUser(server, BOB).then((bob) => bob.session.close());
  // Bob's next connection runs through a proxy that stops passing the server's frames on.
  let reading = true;
  let resume!: () => void;
  const stalled = new Promise<void>((resolve) => resume = resolve);
  const proxy = startFrameProxy(server.port, async (direction, _index, body) => {
    if (direction === "to_client" && !reading) await stalled;
    return body;
  });
  const bobDir = await tempDir();
  const slowBob = await userSession(
    { ...server, address: `127.0.0.1:${proxy.port}` },
    BOB,
    { dataDir: bobDir },
  );
  try {
    reading = false;
    const count = 300; // 300 × 50 KiB: far more than the socket buffers on the way hold
    const sent = Array.from(
      { length: count },
      (_, i) => `${i} ${randomBytes(25 * 1024).toString("hex")}`,
    );
    await Promise.all(
      sent.map((text) => alice.session.messenger.send([BOB], { kind: "text", text })),
    );
    const [dropped] = await events(server, 1, (e) => e.event === "slow_reader");
    const queued = Number(dropped!.queuedBytes);
    assert.ok(queued <= maxQueuedBytes + 64 * 1024, `${queued} bytes were queued for Bob`);
    slowBob.session.close();
    resume();

    const bob = await userSession(server, BOB, { dataDir: bobDir });
    assert.deepEqual(textsOf(await within(bob.texts(count), { what: "every message" })), sent);
    bob.session.close();
  } finally {
    resume();
    proxy.close();
    alice.session.close();
    await server.stop();
  }
});

Deno.test("a login past the sessions-per-account limit closes that account's oldest session", async () => {
  const server = await startTestServer({ maxSessionsPerAccount: 2 });
  const first = await newUser(server, ALICE);
  const second = await userSession(server, ALICE);
  const third = await userSession(server, ALICE);
  try {
    const [closed] = await events(server, 1, (e) => e.event === "session_closed");
    assert.equal(closed!.code, "too_many_sessions");
    await assert.rejects(
      within(first.session.rpc.request({ t: "ping" }), { what: "the refused ping" }),
    );
    for (const user of [second, third]) {
      assert.equal((await user.session.rpc.request({ t: "ping" })).t, "pong");
    }
  } finally {
    for (const user of [first, second, third]) user.session.close();
    await server.stop();
  }
});

Deno.test("downloads one connection runs at once are bounded: one more is refused with too_many_downloads", async () => {
  const server = await startTestServer({ maxDownloads: 2 });
  const alice = await newUser(server, ALICE);
  const bob = await newUser(server, BOB);
  try {
    const src = await tempDir();
    const path = `${src}/half.bin`;
    await Deno.writeFile(path, new Uint8Array(randomBytes(20 * 256 * 1024)));
    await assert.rejects(
      sendFile(alice.session, path, [BOB], (done) => {
        if (done >= 17 * 256 * 1024) alice.session.close(); // the upload stops part-way
      }),
    );
    const [listed] = await listFiles(bob.session);
    assert.equal(listed?.complete, false, "the upload is unfinished: downloads wait for it");
    const get = () => bob.session.rpc.request({ t: "file_get", fileId: listed.fileId, from: 0 });
    assert.equal((await get()).t, "file_info");
    assert.equal((await get()).t, "file_info");
    await assert.rejects(
      get(),
      (e: unknown) => e instanceof SspError && e.code === "too_many_downloads",
    );
  } finally {
    bob.session.close();
    await server.stop();
  }
});

Deno.test("finite-field handshakes are rationed per address while X25519 clients keep being served", async () => {
  // 1 ms of finite-field CPU per second: one ffdhe2048 handshake (several ms) puts the address
  // in debt for seconds, far longer than this test runs. The server prefers ffdhe2048, as it
  // prefers a custom group made with `ssp-server dhparam`.
  const server = await startTestServer({
    ffdhMsPerAddress: 1,
    groups: [namedGroup("ffdhe2048"), namedGroup("x25519")],
  });
  const clientDir = await tempDir();
  const open = (groups: ("x25519" | "ffdhe2048")[]) =>
    connect({ server: server.address, dataDir: clientDir, groups });
  try {
    const first = await open(["ffdhe2048", "x25519"]);
    assert.equal(
      first.channel.session.group.name,
      "ffdhe2048",
      "within budget: the preferred group",
    );
    first.channel.close();
    await assert.rejects(
      open(["ffdhe2048"]),
      (e: unknown) => e instanceof SspError && e.code === "peer_server_busy",
    );
    const fallback = await open(["ffdhe2048", "x25519"]);
    assert.equal(
      fallback.channel.session.group.name,
      "x25519",
      "a client offering both gets x25519",
    );
    fallback.channel.close();
    const alice = await newUser(server, ALICE);
    await alice.session.messenger.send([ALICE], { kind: "text", text: "served" });
    alice.session.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ssp-server takes the limits from flags and environment variables", async () => {
  const dataDir = await tempDir("ssp-server-");
  const server = await spawnServer("server.ts", dataDir, {
    args: ["--login-timeout", "300"],
    env: { SSP_MAX_PRELOGIN_FRAME_BYTES: "8192" },
  });
  try {
    const address = `127.0.0.1:${server.port}`;
    const { channel } = await connect({ server: address, dataDir: await tempDir() });
    await channel.send(encodeMessage({ t: "ping", id: 1, pad: new Uint8Array(9000) }));
    assert.equal(await within(serverAlert(channel), { what: "the alert" }), "frame_too_large");
    const idle = await connect({ server: address, dataDir: await tempDir() });
    assert.equal(await within(serverAlert(idle.channel), { what: "the alert" }), "login_timeout");
  } finally {
    const { log } = await stopServer(server, dataDir);
    assert.match(log, /exceeds the limit of 8192 bytes before login/);
  }
});
