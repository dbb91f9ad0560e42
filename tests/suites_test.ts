/**
 * Record suite negotiation against a real server on a real socket
 * (docs/protocol.md §3.1, §3.2): both suites carry traffic, a client that
 * names no suite still gets the ChaCha20-Poly1305 connection it always got,
 * and a man in the middle cannot push a connection to another suite.
 */
import assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import { connect, ping } from "../lib/client/mod.ts";
import { decodeMessage, encodeMessage } from "../lib/wire/mod.ts";
import { HandshakeError } from "../lib/errors.ts";
import { ClientHello, ServerHello } from "../lib/handshake/mod.ts";
import { startFrameProxy } from "./frame_proxy.ts";
import { startTestServer, tempDir } from "./harness.ts";

const BOTH = ["aes-256-gcm", "chacha20-poly1305"] as const;

function handshakeError(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof HandshakeError, `expected HandshakeError, got ${error}`);
    assert.equal(error.code, code);
    return true;
  };
}

Deno.test("AES-256-GCM and ChaCha20-Poly1305 connections both carry records to the server and back", async () => {
  const server = await startTestServer({ suites: [...BOTH] });
  try {
    for (
      const [offer, expected] of [
        [BOTH, "aes-256-gcm"],
        [["chacha20-poly1305", "aes-256-gcm"], "aes-256-gcm"], // the server's order wins
        [["chacha20-poly1305"], "chacha20-poly1305"],
      ] as const
    ) {
      const { channel } = await connect({
        server: server.address,
        dataDir: await tempDir(),
        suites: offer,
      });
      try {
        assert.equal(channel.session.suite, expected);
        // Enough pings to cross the 1-record and block boundaries of both directions.
        for (let i = 1; i <= 5; i++) assert.ok((await ping(channel, i)) >= 0);
      } finally {
        channel.close();
      }
      const done = await server.waitForEvent((e) =>
        e.event === "handshake_done" && e.suite === expected
      );
      assert.equal(done.suite, expected);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("a server that accepts only ChaCha20-Poly1305 chooses it for a client that prefers AES", async () => {
  const server = await startTestServer({ suites: ["chacha20-poly1305"] });
  try {
    const { channel } = await connect({
      server: server.address,
      dataDir: await tempDir(),
      suites: [...BOTH],
    });
    assert.equal(channel.session.suite, "chacha20-poly1305");
    assert.ok((await ping(channel, 1)) >= 0);
    channel.close();
  } finally {
    await server.stop();
  }
});

Deno.test("a client_hello without suites, as from older clients, gets the unchanged ChaCha20 handshake", async () => {
  const server = await startTestServer({ suites: [...BOTH] });
  const seen: Record<string, unknown>[] = [];
  const proxy = startFrameProxy(server.port, (_direction, index, body) => {
    if (index === 0) seen.push(decode(body) as Record<string, unknown>);
    return body;
  });
  try {
    const { channel } = await connect({
      server: `127.0.0.1:${proxy.port}`,
      dataDir: await tempDir(),
      suites: ["chacha20-poly1305"],
    });
    assert.equal(channel.session.suite, "chacha20-poly1305");
    assert.ok((await ping(channel, 1)) >= 0);
    channel.close();
    const hello = seen.find((m) => m.t === "client_hello")!;
    const reply = seen.find((m) => m.t === "server_hello")!;
    // The fields of ssp/1 before suites, and nothing more, both ways.
    assert.deepEqual(Object.keys(hello), ["t", "versions", "groups", "random"]);
    assert.deepEqual(Object.keys(reply), ["t", "version", "group", "random", "share"]);
  } finally {
    proxy.close();
    await server.stop();
  }
});

Deno.test("a man in the middle cannot downgrade the record suite", async () => {
  const server = await startTestServer({ suites: [...BOTH] });
  const attacks: [string, (direction: string, index: number, body: Uint8Array) => Uint8Array][] = [
    ["AES-256-GCM removed from the client's offer", (direction, index, body) => {
      if (direction !== "to_server" || index !== 0) return body;
      const hello = decodeMessage(ClientHello, body, "client_hello");
      return encodeMessage({ ...hello, suites: ["chacha20-poly1305"] });
    }],
    ["the offer removed, as if from an older client", (direction, index, body) => {
      if (direction !== "to_server" || index !== 0) return body;
      const { suites: _, ...hello } = decodeMessage(ClientHello, body, "client_hello");
      return encodeMessage(hello);
    }],
    ["the server's choice rewritten", (direction, index, body) => {
      if (direction !== "to_client" || index !== 0) return body;
      const hello = decodeMessage(ServerHello, body, "server_hello");
      return encodeMessage({ ...hello, suite: "chacha20-poly1305" });
    }],
    ["the server's choice removed", (direction, index, body) => {
      if (direction !== "to_client" || index !== 0) return body;
      const { suite: _, ...hello } = decodeMessage(ServerHello, body, "server_hello");
      return encodeMessage(hello);
    }],
  ];
  try {
    for (const [name, rewrite] of attacks) {
      const proxy = startFrameProxy(server.port, rewrite);
      try {
        await assert.rejects(
          connect({
            server: `127.0.0.1:${proxy.port}`,
            dataDir: await tempDir(),
            suites: [...BOTH],
          }),
          handshakeError("bad_server_signature"),
          name,
        );
      } finally {
        proxy.close();
      }
    }
    // Without the attacker, the same client gets AES-256-GCM.
    const { channel } = await connect({
      server: server.address,
      dataDir: await tempDir(),
      suites: [...BOTH],
    });
    assert.equal(channel.session.suite, "aes-256-gcm");
    channel.close();
  } finally {
    await server.stop();
  }
});
