import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { decodeMessage, encodeMessage } from "../wire/mod.ts";
import { generateSigningKeyPair, namedGroup } from "../crypto/mod.ts";
import { HandshakeError } from "../errors.ts";
import { ClientHandshake, ServerHandshake, type ServerIdentity } from "./mod.ts";
import { ClientHello, ServerAuth, ServerHello } from "./messages.ts";

async function identity(): Promise<ServerIdentity> {
  return await generateSigningKeyPair();
}

function rejectsAt(stage: string, code: string | RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof HandshakeError, `expected HandshakeError, got ${e}`);
    assert.equal(e.stage, stage);
    if (typeof code === "string") assert.equal(e.code, code);
    else assert.match(e.code, code);
    return true;
  };
}

for (const name of ["x25519", "ffdhe2048"] as const) {
  Deno.test(`both peers derive the same keys and transcript hash over ${name}`, async () => {
    const id = await identity();
    const client = new ClientHandshake();
    const server = new ServerHandshake({ identity: id, groups: [namedGroup(name)] });
    assert.equal(client.state, "start");
    const hello = client.clientHello();
    assert.equal(client.state, "await_server_hello");
    const serverHello = await server.onClientHello(hello);
    assert.equal(server.state, "await_client_share");
    const share = await client.onServerHello(serverHello);
    assert.equal(client.state, "await_server_auth");
    const auth = await server.onClientShare(share);
    assert.equal(server.state, "await_client_finished");
    const { clientFinished, result: c } = await client.onServerAuth(auth);
    assert.equal(client.state, "done");
    const s = server.onClientFinished(clientFinished);
    assert.equal(server.state, "done");
    assert.deepEqual(c.transcriptHash, s.transcriptHash);
    assert.deepEqual(c.sendKey, s.receiveKey);
    assert.deepEqual(c.receiveKey, s.sendKey);
    assert.notDeepEqual(c.sendKey, c.receiveKey);
    assert.deepEqual(c.serverIdentity, id.publicKey);
    assert.equal(c.group.name, name);
    assert.equal(c.version, 1);
  });
}

Deno.test("two sessions with the same server get different keys (fresh ephemeral shares)", async () => {
  const id = await identity();
  const keys = [];
  for (let i = 0; i < 2; i++) {
    const client = new ClientHandshake();
    const server = new ServerHandshake({ identity: id, groups: [namedGroup("x25519")] });
    const share = await client.onServerHello(await server.onClientHello(client.clientHello()));
    const { result } = await client.onServerAuth(await server.onClientShare(share));
    keys.push(result.sendKey);
  }
  assert.notDeepEqual(keys[0], keys[1]);
});

Deno.test("the server picks its most preferred group among those the client offers", async () => {
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("ffdhe3072"), namedGroup("x25519")],
  });
  const client = new ClientHandshake({ groups: ["x25519", "ffdhe2048"] });
  const hello = decodeMessage(ServerHello, await server.onClientHello(client.clientHello()), "t");
  assert.equal(hello.group, "x25519");
});

Deno.test("a client and server with no common group or version fail with a clear error", async () => {
  const id = await identity();
  const server = new ServerHandshake({ identity: id, groups: [namedGroup("ffdhe4096")] });
  await assert.rejects(
    server.onClientHello(new ClientHandshake({ groups: ["x25519"] }).clientHello()),
    (e: unknown) => {
      rejectsAt("client_hello", "no_common_group")(e);
      assert.match((e as Error).message, /client offers x25519; server accepts ffdhe4096/);
      return true;
    },
  );
  assert.equal(server.state, "failed");
  const old = new ServerHandshake({ identity: id, groups: [namedGroup("x25519")] });
  await assert.rejects(
    old.onClientHello(new ClientHandshake({ versions: [7] }).clientHello()),
    rejectsAt("client_hello", "unsupported_version"),
  );
});

Deno.test("a downgraded offer (group list altered in transit) fails the server signature", async () => {
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("x25519"), namedGroup("ffdhe2048")],
  });
  const client = new ClientHandshake();
  const hello = client.clientHello();
  // A man in the middle strips every group but ffdhe2048 from the offer.
  const tampered = decodeMessage(ClientHello, hello, "t");
  const share = await client.onServerHello(
    await server.onClientHello(encodeMessage({ ...tampered, groups: ["ffdhe2048"] })),
  );
  await assert.rejects(
    client.onServerAuth(await server.onClientShare(share)),
    rejectsAt("server_auth", "bad_server_signature"),
  );
  assert.equal(client.state, "failed");
});

Deno.test("a server_auth signed by another key than the one it names is refused", async () => {
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("x25519")],
  });
  const client = new ClientHandshake();
  const share = await client.onServerHello(await server.onClientHello(client.clientHello()));
  const auth = await server.onClientShare(share);
  const other = await identity();
  const decoded = decodeMessage(ServerAuth, auth, "t");
  await assert.rejects(
    client.onServerAuth(encodeMessage({ ...decoded, identity: other.publicKey })),
    rejectsAt("server_auth", "bad_server_signature"),
  );
});

Deno.test("a wrong client_finished is refused", async () => {
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("x25519")],
  });
  const client = new ClientHandshake();
  const share = await client.onServerHello(await server.onClientHello(client.clientHello()));
  await client.onServerAuth(await server.onClientShare(share));
  assert.throws(
    () => server.onClientFinished(encode({ t: "client_finished", finished: new Uint8Array(32) })),
    rejectsAt("client_finished", "bad_client_finished"),
  );
});

Deno.test("messages out of order are refused by the state machine", async () => {
  const client = new ClientHandshake();
  await assert.rejects(
    client.onServerHello(new Uint8Array()),
    rejectsAt("server_hello", "bad_state"),
  );
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("x25519")],
  });
  await assert.rejects(
    server.onClientShare(new Uint8Array()),
    rejectsAt("client_share", "bad_state"),
  );
});

Deno.test("a peer's alert during the handshake becomes a HandshakeError with its text", async () => {
  const client = new ClientHandshake();
  client.clientHello();
  await assert.rejects(
    client.onServerHello(encode({ t: "alert", code: "busy", message: "server is full" })),
    (e: unknown) => {
      rejectsAt("server_hello", "peer_busy")(e);
      assert.match((e as Error).message, /server is full/);
      return true;
    },
  );
});

Deno.test("both peers agree on the record suite: the server's first choice among those offered", async () => {
  const id = await identity();
  const cases = [
    [["aes-256-gcm", "chacha20-poly1305"], ["aes-256-gcm", "chacha20-poly1305"], "aes-256-gcm"],
    [["chacha20-poly1305", "aes-256-gcm"], ["aes-256-gcm", "chacha20-poly1305"], "aes-256-gcm"],
    [["aes-256-gcm", "chacha20-poly1305"], ["chacha20-poly1305"], "chacha20-poly1305"],
    [["chacha20-poly1305"], ["aes-256-gcm", "chacha20-poly1305"], "chacha20-poly1305"],
    // ChaCha20-Poly1305 is mandatory: accepted even if the server's list omits it.
    [["chacha20-poly1305"], ["aes-256-gcm"], "chacha20-poly1305"],
  ] as const;
  for (const [offered, accepted, expected] of cases) {
    const client = new ClientHandshake({ suites: offered });
    const server = new ServerHandshake({
      identity: id,
      groups: [namedGroup("x25519")],
      suites: accepted,
    });
    const share = await client.onServerHello(await server.onClientHello(client.clientHello()));
    const { clientFinished, result: c } = await client.onServerAuth(
      await server.onClientShare(share),
    );
    const s = server.onClientFinished(clientFinished);
    assert.equal(c.suite, expected, `${offered} to ${accepted}`);
    assert.equal(s.suite, expected, `${offered} to ${accepted}`);
  }
});

Deno.test("a client offering only ChaCha20-Poly1305 sends no suites field and gets no suite back", async () => {
  const client = new ClientHandshake({ suites: ["chacha20-poly1305"] });
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("x25519")],
    suites: ["aes-256-gcm", "chacha20-poly1305"],
  });
  const hello = client.clientHello();
  assert.equal(decodeMessage(ClientHello, hello, "t").suites, undefined);
  const reply = await server.onClientHello(hello);
  assert.equal(decodeMessage(ServerHello, reply, "t").suite, undefined);
});

Deno.test("a server choosing a suite the client did not offer is refused", async () => {
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("x25519")],
    suites: ["aes-256-gcm"],
  });
  // A server_hello choosing AES-256-GCM, answering an offer that named it...
  const reply = await server.onClientHello(
    new ClientHandshake({ suites: ["aes-256-gcm", "chacha20-poly1305"] }).clientHello(),
  );
  assert.equal(decodeMessage(ServerHello, reply, "t").suite, "aes-256-gcm");
  // ...reaches a client that offered only ChaCha20-Poly1305.
  const client = new ClientHandshake({ suites: ["chacha20-poly1305"] });
  client.clientHello();
  await assert.rejects(
    client.onServerHello(reply),
    rejectsAt("server_hello", "suite_not_offered"),
  );
  assert.equal(client.state, "failed");
});

Deno.test("a client offering no suite the server knows is refused with no_common_suite", async () => {
  const server = new ServerHandshake({
    identity: await identity(),
    groups: [namedGroup("x25519")],
  });
  await assert.rejects(
    server.onClientHello(encode({
      t: "client_hello",
      versions: [1],
      groups: ["x25519"],
      random: new Uint8Array(32),
      suites: ["rot13"],
    })),
    (e: unknown) => {
      rejectsAt("client_hello", "no_common_suite")(e);
      assert.match((e as Error).message, /client offers rot13; server accepts .*chacha20-poly1305/);
      return true;
    },
  );
});

Deno.test("a group the server does not admit is skipped; none admitted is server_busy", async () => {
  const id = await identity();
  const groups = [namedGroup("ffdhe2048"), namedGroup("x25519")];
  const asked: string[] = [];
  const onlyX25519 = new ServerHandshake({
    identity: id,
    groups,
    admitGroup: (g) => (asked.push(g.name), g.name === "x25519"),
  });
  const hello = decodeMessage(
    ServerHello,
    await onlyX25519.onClientHello(new ClientHandshake().clientHello()),
    "server_hello",
  );
  assert.equal(hello.group, "x25519");
  assert.deepEqual(asked, ["ffdhe2048", "x25519"], "asked in the server's order, until one fits");

  const none = new ServerHandshake({ identity: id, groups, admitGroup: () => false });
  const ffOnly = new ClientHandshake({ groups: ["ffdhe2048"] }).clientHello();
  await assert.rejects(none.onClientHello(ffOnly), rejectsAt("client_hello", "server_busy"));
  assert.equal(none.state, "failed");
});
