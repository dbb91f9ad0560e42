/**
 * The secure channel against a live server on a real socket: tampering,
 * replay, reordering, truncation, oversize frames and garbage are each
 * refused with a clear error, and the server keeps serving other clients.
 */
import assert from "node:assert/strict";
import { decodeServerMessage, encodeAppMessage } from "../lib/protocol/mod.ts";
import { clientHandshake, type SecureChannel } from "../lib/channel/mod.ts";
import { connect, ping } from "../lib/client/mod.ts";
import { decodeMessage, encodeFrame, encodeFrameHeader, FrameReader } from "../lib/wire/mod.ts";
import { Alert } from "../lib/handshake/mod.ts";
import { SspError } from "../lib/errors.ts";
import { chunkedSource } from "../lib/testing/mod.ts";
import {
  readUntilClosed,
  startTestServer,
  TamperingConnection,
  tempDir,
  type TestServer,
} from "./harness.ts";
import { newUser } from "./users.ts";

async function pingWorks(server: TestServer): Promise<void> {
  const { channel } = await connect({ server: server.address, dataDir: await tempDir() });
  try {
    assert.ok((await ping(channel, 42)) >= 0);
  } finally {
    channel.close();
  }
}

async function tamperingClient(
  server: TestServer,
): Promise<{ conn: TamperingConnection; channel: SecureChannel }> {
  const conn = new TamperingConnection(
    await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
  );
  const channel = await clientHandshake(conn);
  return { conn, channel };
}

/** Waits for the server's closing alert on a channel whose own sending was sabotaged. */
async function expectServerAlert(channel: SecureChannel, code: string): Promise<void> {
  const body = await channel.receive();
  assert.ok(body !== null, "server closed without an alert");
  const message = decodeServerMessage(body);
  assert.equal(message.t, "alert");
  assert.equal(message.t === "alert" && message.code, code);
  assert.equal(await channel.receive(), null, "server should close after the alert");
}

Deno.test("a client pings the server over the secure channel and pins its key on first use", async () => {
  const server = await startTestServer();
  const dataDir = await tempDir();
  try {
    const first = await connect({ server: server.address, dataDir });
    assert.equal(first.pin, "first_use");
    assert.equal(first.fingerprint, server.server.fingerprint);
    assert.ok((await ping(first.channel, 1)) >= 0);
    first.channel.close();
    const second = await connect({ server: server.address, dataDir });
    assert.equal(second.pin, "match");
    second.channel.close();
  } finally {
    await server.stop();
  }
});

Deno.test("a record with one flipped bit is refused and the server keeps serving others", async () => {
  const server = await startTestServer();
  try {
    const { conn, channel } = await tamperingClient(server);
    conn.tamper = (bytes) => {
      bytes[bytes.length - 20]! ^= 0x01;
      return [bytes];
    };
    await channel.send(encodeAppMessage({ t: "ping", id: 1 }));
    await expectServerAlert(channel, "record_auth_failed");
    await server.waitForEvent((e) => e.code === "record_auth_failed");
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("a replayed record is refused", async () => {
  const server = await startTestServer();
  try {
    const { conn, channel } = await tamperingClient(server);
    conn.tamper = (bytes) => [bytes, bytes];
    await channel.send(encodeAppMessage({ t: "ping", id: 1 }));
    const pong = decodeServerMessage((await channel.receive())!);
    assert.deepEqual(pong, { t: "pong", id: 1 }, "the original record is answered");
    await expectServerAlert(channel, "record_auth_failed");
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("reordered records are refused", async () => {
  const server = await startTestServer();
  try {
    const { conn, channel } = await tamperingClient(server);
    let held: Uint8Array | undefined;
    conn.tamper = (bytes) => {
      if (held === undefined) {
        held = bytes;
        return [];
      }
      return [bytes, held];
    };
    await channel.send(encodeAppMessage({ t: "ping", id: 1 }));
    await channel.send(encodeAppMessage({ t: "ping", id: 2 }));
    await expectServerAlert(channel, "record_auth_failed");
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("a record frame over the size limit is refused after the handshake", async () => {
  const server = await startTestServer({ maxFrameBytes: 4096 });
  try {
    const { conn, channel } = await tamperingClient(server);
    conn.tamper = () => [encodeFrameHeader(4097), new Uint8Array(4097)];
    await channel.send(encodeAppMessage({ t: "ping", id: 1 }));
    await expectServerAlert(channel, "frame_too_large");
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("garbage after the handshake is refused", async () => {
  const server = await startTestServer();
  try {
    const { conn, channel } = await tamperingClient(server);
    conn.tamper = () => [encodeFrame(crypto.getRandomValues(new Uint8Array(100)))];
    await channel.send(encodeAppMessage({ t: "ping", id: 1 }));
    await expectServerAlert(channel, "record_auth_failed");
  } finally {
    await server.stop();
  }
});

/** Sends raw bytes before any handshake and returns the server's plaintext alert. */
async function rawAlert(server: TestServer, bytes: Uint8Array, close = false): Promise<Alert> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(bytes);
  if (close) await conn.closeWrite();
  const reply = await readUntilClosed(conn);
  conn.close();
  const frame = await new FrameReader(chunkedSource(reply, [reply.length || 1])).read();
  assert.ok(frame, "server closed without an alert");
  return decodeMessage(Alert, frame.body, "alert");
}

Deno.test("an oversize frame before the handshake gets an alert, not an allocation", async () => {
  const server = await startTestServer();
  try {
    const alert = await rawAlert(server, encodeFrameHeader(1 << 30));
    assert.equal(alert.code, "frame_too_large");
    assert.match(alert.message, /1073741824 bytes exceeds the limit/);
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("garbage before the handshake gets a clear alert", async () => {
  const server = await startTestServer();
  try {
    const alert = await rawAlert(server, encodeFrame(new TextEncoder().encode("GET / HTTP/1.1")));
    assert.equal(alert.code, "bad_encoding");
    const hello = await rawAlert(server, encodeFrame(encodeAppMessage({ t: "ping", id: 1 })));
    assert.equal(hello.code, "unknown_message");
    assert.match(hello.message, /"ping"/);
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("a stream cut inside a frame is logged and the server keeps serving", async () => {
  const server = await startTestServer();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encodeFrame(new Uint8Array(100)).subarray(0, 50));
    conn.close();
    const event = await server.waitForEvent((e) => e.event === "handshake_failed");
    assert.equal(event.code, "frame_truncated");
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("a silent client is disconnected at the handshake timeout", async () => {
  const server = await startTestServer({ handshakeTimeoutMs: 200 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const reply = await readUntilClosed(conn);
    conn.close();
    assert.equal(reply.length, 0);
    const event = await server.waitForEvent((e) => e.event === "handshake_failed");
    assert.equal(event.code, "handshake_timeout");
    await pingWorks(server);
  } finally {
    await server.stop();
  }
});

Deno.test("connections over the limit are refused at once when every slot is logged in", async () => {
  const server = await startTestServer({ maxConnections: 1 });
  const holder = await newUser(server, "+12015550101");
  try {
    await assert.rejects(
      connect({ server: server.address, dataDir: await tempDir() }),
      (e: unknown) => e instanceof SspError && e.code === "peer_server_busy",
    );
    assert.equal((await holder.session.rpc.request({ t: "ping" })).t, "pong");
  } finally {
    holder.session.close();
    await server.stop();
  }
});

Deno.test("a connection idle past the idle timeout is closed with an alert", async () => {
  const server = await startTestServer({ idleTimeoutMs: 200 });
  try {
    const { channel } = await tamperingClient(server);
    assert.ok((await ping(channel, 1)) >= 0, "activity before the timeout is served");
    await expectServerAlert(channel, "idle_timeout");
    await server.waitForEvent((e) => e.event === "idle_timeout");
  } finally {
    await server.stop();
  }
});
