/**
 * The client's checks of the server: pinned keys, a man in the middle, and
 * invalid Diffie-Hellman parameters from a malicious server.
 */
import assert from "node:assert/strict";
import { getDiffieHellman } from "node:crypto";
import { connect, ping } from "../lib/client/mod.ts";
import {
  decodeMessage,
  encodeFrame,
  encodeMessage,
  FrameReader,
  writeAll,
} from "../lib/wire/mod.ts";
import { FFDHE2048, namedGroup } from "../lib/crypto/mod.ts";
import { loadServerGroups, readDhParamsFile } from "../lib/server/mod.ts";
import { HandshakeError } from "../lib/errors.ts";
import { ServerHello } from "../lib/handshake/mod.ts";
import { startFrameProxy } from "./frame_proxy.ts";
import { startTestServer, tempDir } from "./harness.ts";

function handshakeError(code: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof HandshakeError, `expected HandshakeError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

Deno.test("a changed server key is refused with both fingerprints and what to do", async () => {
  const clientDir = await tempDir();
  const first = await startTestServer();
  const port = first.port;
  const { channel, fingerprint: oldFingerprint } = await connect({
    server: first.address,
    dataDir: clientDir,
  });
  channel.close();
  await first.stop();
  const second = await startTestServer({ port }); // same address, new identity key
  try {
    const newFingerprint = second.server.fingerprint;
    await assert.rejects(connect({ server: second.address, dataDir: clientDir }), (e: unknown) => {
      handshakeError("server_key_changed")(e);
      const error = e as HandshakeError;
      assert.ok(error.message.includes(oldFingerprint) && error.message.includes(newFingerprint));
      assert.match(error.hint ?? "", /--server-fingerprint/);
      return true;
    });
    // The operator confirms the new key out of band: pinning it explicitly works and sticks.
    const pinned = await connect({
      server: second.address,
      dataDir: clientDir,
      serverFingerprint: newFingerprint,
    });
    pinned.channel.close();
    const again = await connect({ server: second.address, dataDir: clientDir });
    assert.equal(again.pin, "match");
    again.channel.close();
  } finally {
    await second.stop();
  }
});

Deno.test("a wrong --server-fingerprint is refused even on first use", async () => {
  const server = await startTestServer();
  try {
    await assert.rejects(
      connect({
        server: server.address,
        dataDir: await tempDir(),
        serverFingerprint: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      }),
      handshakeError("server_key_mismatch", /not the expected SHA256:AAAA/),
    );
  } finally {
    await server.stop();
  }
});

Deno.test("a man in the middle that swaps the server's key share is detected", async () => {
  const server = await startTestServer({ groups: [namedGroup("x25519")] });
  const attacker = crypto.getRandomValues(new Uint8Array(32));
  attacker[31]! &= 0x7f;
  const proxy = startFrameProxy(server.port, (direction, index, body) => {
    if (direction !== "to_client" || index !== 0) return body;
    const hello = decodeMessage(ServerHello, body, "server_hello");
    return encodeMessage({ ...hello, share: attacker });
  });
  try {
    await assert.rejects(
      connect({ server: `127.0.0.1:${proxy.port}`, dataDir: await tempDir() }),
      handshakeError("bad_server_signature", /man in the middle/),
    );
    const { channel } = await connect({ server: server.address, dataDir: await tempDir() });
    assert.ok((await ping(channel, 1)) >= 0);
    channel.close();
  } finally {
    proxy.close();
    await server.stop();
  }
});

/** A fake server that answers every client_hello with `hello` and waits. */
function maliciousServer(hello: Record<string, unknown>): { address: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await new FrameReader(conn).read();
      await writeAll(
        conn,
        encodeFrame(
          encodeMessage({ t: "server_hello", version: 1, random: new Uint8Array(32), ...hello }),
        ),
      );
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close() {
      listener.close();
      for (const c of conns) c.close();
    },
  };
}

function bytesOf(n: bigint, length?: number): Uint8Array {
  let hex = n.toString(16);
  hex = hex.padStart(length ? length * 2 : hex.length + (hex.length % 2), "0");
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

const ffdheShare = (y: bigint) => ({ group: "ffdhe2048", share: bytesOf(y, 256) });
const custom = (p: bigint, g: bigint) => ({
  group: "custom",
  p: bytesOf(p),
  g: bytesOf(g),
  share: bytesOf(4n, Math.ceil(p.toString(16).length / 2)),
});

const modp2 = BigInt("0x" + getDiffieHellman("modp2").getPrime("hex")); // RFC 2409, 1024-bit
const testGroup = await readDhParamsFile(new URL("../testdata/dh2048.pem", import.meta.url));
const p2048 = FFDHE2048.p;

const badServers: [string, Record<string, unknown>, string, RegExp][] = [
  [
    "a 1024-bit prime",
    custom(modp2, 2n),
    "dh_prime_too_small",
    /1024 bits; ssp requires at least 2048/,
  ],
  ["a composite p", custom(testGroup.p + 2n, 2n), "dh_prime_composite", /not prime|composite/],
  ["g of order 2 (p-1)", custom(testGroup.p, testGroup.p - 1n), "dh_bad_generator", /order 2/],
  ["g = 1", custom(testGroup.p, 1n), "dh_bad_generator", /generator/],
  ["y = 1", ffdheShare(1n), "dh_bad_public_value", /1/],
  ["y = p-1", ffdheShare(p2048 - 1n), "dh_bad_public_value", /p ?[−-] ?1|out of range/],
  ["y = 0", ffdheShare(0n), "dh_bad_public_value", /out of range|0/],
  [
    "an all-zero x25519 share",
    { group: "x25519", share: new Uint8Array(32) },
    "dh_low_order",
    /all-zero/,
  ],
];

for (const [what, hello, code, pattern] of badServers) {
  Deno.test(`a server offering ${what} is refused with a clear error`, async () => {
    const server = maliciousServer(hello);
    try {
      await assert.rejects(
        connect({ server: server.address, dataDir: await tempDir() }),
        (e: unknown) => {
          assert.ok(e instanceof HandshakeError, `expected HandshakeError, got ${e}`);
          assert.equal(e.stage, "server_hello");
          assert.equal(e.code, code, e.message);
          assert.match(e.message, pattern);
          return true;
        },
      );
    } finally {
      server.close();
    }
  });
}

Deno.test("a custom server group is validated once, then trusted for that pinned server", async () => {
  const dir = await tempDir("ssp-server-");
  await Deno.copyFile(new URL("../testdata/dh2048.pem", import.meta.url), `${dir}/dhparam.pem`);
  const server = await startTestServer({ dataDir: dir, groups: await loadServerGroups(dir) });
  const clientDir = await tempDir();
  try {
    for (let i = 0; i < 2; i++) {
      const { channel } = await connect({ server: server.address, dataDir: clientDir });
      assert.equal(channel.session.group.name, "custom");
      assert.ok((await ping(channel, i)) >= 0);
      channel.close();
    }
    const pins = JSON.parse(await Deno.readTextFile(`${clientDir}/known_hosts.json`));
    assert.equal(pins.hosts[server.address].groups.length, 1);
  } finally {
    await server.stop();
  }
});
