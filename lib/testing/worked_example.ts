/**
 * The worked example of docs/protocol.md, Appendix D: one complete ssp/1
 * handshake over X25519 between the real `ClientHandshake` and
 * `ServerHandshake` (in memory, no sockets), the first records each way, and
 * `server_hello` in two finite-field groups.
 *
 * Both machines draw their randoms and ephemeral keys from one seeded
 * generator (SHA-256 in counter mode, {@linkcode seededRandom}) passed as
 * their `random` option; everything else is the library code of a real
 * connection. Every value is then recomputed independently from the formulas
 * of docs/protocol.md (node:crypto HKDF, HMAC, Ed25519, ChaCha20-Poly1305 and
 * WebCrypto X25519), and {@linkcode workedExample} throws if any differs.
 *
 * scripts/protocol_example.ts prints the result; lib/handshake/appendix_d_test.ts
 * checks that docs/protocol.md shows exactly these bytes.
 *
 * @module
 */
import {
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  verify as nodeVerify,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { decode } from "@msgpack/msgpack";
import { concatBytes, fromHex, toHex, utf8 } from "../bytes.ts";
import {
  encodeFrame,
  encodeFrameHeader,
  encodeMessage,
  RecordOpener,
  RecordSealer,
} from "../wire/mod.ts";
import {
  decodeDhParamsPem,
  type DhGroup,
  fingerprint,
  namedGroup,
  validateGroupParameters,
} from "../crypto/mod.ts";
import { ClientHandshake, ServerHandshake } from "../handshake/mod.ts";
import type { RandomSource } from "../crypto/mod.ts";
import { annotate, dump } from "./msgpack_dump.ts";

/** The seed of Appendix D's generator. */
export const WORKED_EXAMPLE_SEED = utf8("ssp/1 protocol.md worked example");

/**
 * A deterministic {@linkcode RandomSource} for known-answer tests: the bytes
 * of SHA-256(seed || uint32be(0)), SHA-256(seed || uint32be(1)), … in order.
 * Not random at all: never use it outside tests and examples.
 */
export function seededRandom(seed: Uint8Array): RandomSource {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (buffer) => {
    let filled = 0;
    while (filled < buffer.length) {
      if (pool.length === 0) {
        const block = new Uint8Array(4);
        new DataView(block.buffer).setUint32(0, counter++);
        pool = new Uint8Array(createHash("sha256").update(seed).update(block).digest());
      }
      const take = Math.min(buffer.length - filled, pool.length);
      buffer.set(pool.subarray(0, take), filled);
      pool = pool.subarray(take);
      filled += take;
    }
    return buffer;
  };
}

/** Appendix D as text: each `text` block, in the order docs/protocol.md shows them. */
export interface WorkedExample {
  /** D.1 inputs. */
  inputs: string;
  /** D.2, the five handshake frames, annotated and in full. */
  frames: { title: string; text: string }[];
  /** D.3 derived values. */
  derived: string;
  /** D.4 the first three records. */
  records: string;
  /** D.4 the second ping sealed after a rekey: ciphertext and tag, hex. */
  rekeyed: { ciphertext: string; tag: string };
  /** D.5 server_hello in ffdhe2048 and in the custom group of testdata/dh2048.pem. */
  finiteField: string;
}

const X25519_PKCS8_PREFIX = fromHex("302e020100300506032b656e04220420");
const ED25519_PKCS8_PREFIX = fromHex("302e020100300506032b657004220420");
const ED25519_SPKI_PREFIX = fromHex("302a300506032b6570032100");
const BASE_POINT = concatBytes(Uint8Array.of(9), new Uint8Array(31));

/**
 * Runs the example with the seed {@linkcode WORKED_EXAMPLE_SEED}, checks every
 * value against an independent computation, and returns Appendix D's text.
 *
 * @throws {Error} naming the first value where the code and the spec's formulas differ.
 */
export async function workedExample(): Promise<WorkedExample> {
  const random = seededRandom(WORKED_EXAMPLE_SEED);
  const identitySeed = random(new Uint8Array(32));
  const identityPkcs8 = concatBytes(ED25519_PKCS8_PREFIX, identitySeed);
  const identityPublic = new Uint8Array(
    createPublicKey(
      createPrivateKey({ key: Buffer.from(identityPkcs8), format: "der", type: "pkcs8" }),
    )
      .export({ format: "der", type: "spki" }),
  ).subarray(ED25519_SPKI_PREFIX.length);
  const identity = { publicKey: identityPublic, privateKeyPkcs8: identityPkcs8 };

  // Every draw of the handshake, in order: client random, then in onClientHello the server's
  // X25519 scalar and its random, then in onServerHello the client's scalar.
  const draws: Uint8Array[] = [];
  const recording: RandomSource = (buffer) => {
    draws.push(random(buffer).slice());
    return buffer;
  };

  const client = new ClientHandshake({
    groups: ["x25519", "ffdhe2048", "ffdhe3072", "ffdhe4096", "custom"],
    // A ChaCha20-Poly1305 connection: no `suites` in client_hello (§3.1), whatever this machine has.
    suites: ["chacha20-poly1305"],
    random: recording,
  });
  const server = new ServerHandshake({
    identity,
    groups: [namedGroup("x25519"), namedGroup("ffdhe2048")],
    random: recording,
  });
  const m1 = client.clientHello();
  const m2 = await server.onClientHello(m1);
  const m3 = await client.onServerHello(m2);
  const m4 = await server.onClientShare(m3);
  const { clientFinished: m5, result: clientResult } = await client.onServerAuth(m4);
  const serverResult = server.onClientFinished(m5);

  // Independent recomputation from docs/protocol.md §3.
  if (draws.length !== 4) throw new Error(`expected 4 draws of randomness, got ${draws.length}`);
  const [clientRandom, serverScalar, serverRandom, clientScalar] = draws as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const ch = decode(m1) as { random: Uint8Array };
  const sh = decode(m2) as { random: Uint8Array; share: Uint8Array };
  equal(ch.random, clientRandom, "client random");
  equal(sh.random, serverRandom, "server random");
  const cs = decode(m3) as { share: Uint8Array };
  const sa = decode(m4) as { identity: Uint8Array; signature: Uint8Array; finished: Uint8Array };
  const cf = decode(m5) as { finished: Uint8Array };

  equal(sh.share, await x25519(serverScalar, BASE_POINT), "server share");
  equal(cs.share, await x25519(clientScalar, BASE_POINT), "client share");
  const secret = await x25519(clientScalar, sh.share);
  equal(secret, await x25519(serverScalar, cs.share), "shared secret (both sides)");

  const th2 = sha256(encodeFrame(m1), encodeFrame(m2), encodeFrame(m3));
  const keyC2s = hkdf(secret, th2, "ssp/1 c2s");
  const keyS2c = hkdf(secret, th2, "ssp/1 s2c");
  const keySf = hkdf(secret, th2, "ssp/1 server finished");
  const keyCf = hkdf(secret, th2, "ssp/1 client finished");
  const signed = concatBytes(utf8("ssp/1 server signature\0"), th2, identityPublic);
  const publicKey = createPublicKey({
    key: Buffer.from(concatBytes(ED25519_SPKI_PREFIX, identityPublic)),
    format: "der",
    type: "spki",
  });
  if (!nodeVerify(null, signed, publicKey, sa.signature)) throw new Error("signature differs");
  equal(sa.identity, identityPublic, "identity");
  equal(
    sa.finished,
    hmac(keySf, concatBytes(th2, identityPublic, sa.signature)),
    "server finished",
  );
  const th3 = sha256(encodeFrame(m1), encodeFrame(m2), encodeFrame(m3), encodeFrame(m4));
  equal(cf.finished, hmac(keyCf, th3), "client finished");
  // The same keys with HKDF written out (L = 32, so Expand is a single HMAC block).
  const prk = hmac(th2, secret);
  equal(keyC2s, hmac(prk, concatBytes(utf8("ssp/1 c2s"), Uint8Array.of(1))), "K_c2s, expanded");
  equal(
    keyCf,
    hmac(prk, concatBytes(utf8("ssp/1 client finished"), Uint8Array.of(1))),
    "K_cf, expanded",
  );
  equal(clientResult.transcriptHash, th3, "transcript hash (client)");
  equal(serverResult.transcriptHash, th3, "transcript hash (server)");
  equal(clientResult.sendKey, keyC2s, "client send key");
  equal(serverResult.receiveKey, keyC2s, "server receive key");
  equal(clientResult.receiveKey, keyS2c, "client receive key");
  equal(serverResult.sendKey, keyS2c, "server send key");
  if (fingerprint(identityPublic) !== fingerprintOf(identityPublic)) {
    throw new Error("fingerprint differs");
  }

  // §4: ping 1 from the client, pong 1 from the server, ping 2 from the client.
  const clientSealer = new RecordSealer(clientResult.sendKey);
  const serverOpener = new RecordOpener(serverResult.receiveKey);
  const serverSealer = new RecordSealer(serverResult.sendKey);
  const clientOpener = new RecordOpener(clientResult.receiveKey);
  const record = (sealer: RecordSealer, plaintext: Uint8Array) => {
    const header = encodeFrameHeader(plaintext.length + 16);
    return { header, sealed: sealer.seal(header, plaintext) };
  };
  const ping = encodeMessage({ t: "ping", id: 1 });
  const pong = encodeMessage({ t: "pong", id: 1 });
  const ping2 = encodeMessage({ t: "ping", id: 2 });
  const r1 = record(clientSealer, ping);
  equal(serverOpener.open(r1.header, r1.sealed), ping, "ping opened");
  equal(r1.sealed, seal(keyC2s, 0, r1.header, ping), "ping record");
  const r2 = record(serverSealer, pong);
  equal(clientOpener.open(r2.header, r2.sealed), pong, "pong opened");
  equal(r2.sealed, seal(keyS2c, 0, r2.header, pong), "pong record");
  const r3 = record(clientSealer, ping2);
  equal(r3.sealed, seal(keyC2s, 1, r3.header, ping2), "second ping record");

  // §4 rekeying: with a limit of one record per key, the second record uses epoch 1.
  const rekeyed = hkdf(keyC2s, new Uint8Array(0), "ssp/1 rekey");
  equal(
    rekeyed,
    hmac(hmac(new Uint8Array(32), keyC2s), concatBytes(utf8("ssp/1 rekey"), Uint8Array.of(1))),
    "rekey, expanded with a 32-zero-byte salt",
  );
  const tiny = new RecordSealer(keyC2s, {
    rekeyAfterRecords: 1,
    rekeyAfterBytes: 2 ** 30,
    maxEpochs: 2,
  });
  tiny.seal(r1.header, ping);
  const afterRekey = tiny.seal(r3.header, ping2);
  equal(afterRekey, seal(rekeyed, 0, r3.header, ping2), "record after rekey");

  // §3.2 server_hello in the finite-field groups: an RFC 7919 group and a custom one.
  const dh2048 = decodeDhParamsPem(
    await Deno.readTextFile(new URL("../../testdata/dh2048.pem", import.meta.url)),
  );
  const finiteField: string[] = [];
  for (const group of [namedGroup("ffdhe2048"), validateGroupParameters(dh2048.p, dh2048.g)]) {
    finiteField.push(await finiteFieldHello(group, identity, random));
  }

  const records = ([
    ["client → server ping {t: ping, id: 1}", ping, r1, "K_c2s", 0],
    ["server → client pong {t: pong, id: 1}", pong, r2, "K_s2c", 0],
    ["client → server ping {t: ping, id: 2}", ping2, r3, "K_c2s", 1],
  ] as const).map(([what, plain, r, key, counter]) =>
    [
      what,
      `  plaintext  ${toHex(plain)}`,
      `  key        ${key}, nonce ${toHex(nonce(counter))}, AAD ${toHex(r.header)}`,
      `  frame      ${toHex(r.header)} ${toHex(r.sealed.subarray(0, -16))}`,
      `             tag ${toHex(r.sealed.subarray(-16))}`,
    ].join("\n")
  );

  return {
    inputs: lines(
      `server identity seed (Ed25519)   ${toHex(identitySeed)}`,
      `server identity public key       ${toHex(identityPublic)}`,
      `its fingerprint                  ${fingerprintOf(identityPublic)}`,
      `client ephemeral X25519 scalar   ${toHex(clientScalar)}`,
      `server ephemeral X25519 scalar   ${toHex(serverScalar)}`,
      `client random                    ${toHex(ch.random)}`,
      `server random                    ${toHex(sh.random)}`,
    ),
    frames: [
      ["client_hello", m1],
      ["server_hello", m2],
      ["client_share", m3],
      ["server_auth", m4],
      ["client_finished", m5],
    ].map(([name, body], i) => ({
      title: `F${i + 1} \`${name}\`, frame of ${encodeFrame(body as Uint8Array).length} bytes:`,
      text: frameText(body as Uint8Array, true),
    })),
    derived: lines(
      `X25519 shared secret Z     ${toHex(secret)}`,
      `TH2 = SHA-256(F1||F2||F3)  ${toHex(th2)}`,
      `K_c2s                      ${toHex(keyC2s)}`,
      `K_s2c                      ${toHex(keyS2c)}`,
      `K_sf (server finished)     ${toHex(keySf)}`,
      `K_cf (client finished)     ${toHex(keyCf)}`,
      `signed content (${signed.length} bytes)  = "ssp/1 server signature\\0" || TH2 || identity`,
      dump(signed),
      `signature                  ${toHex(sa.signature.subarray(0, 32))}`,
      `                           ${toHex(sa.signature.subarray(32))}`,
      `server finished            ${toHex(sa.finished)}`,
      `TH3 = SHA-256(F1||..||F4)  ${toHex(th3)}`,
      `client finished            ${toHex(cf.finished)}`,
      `K_c2s after one rekey      ${toHex(rekeyed)}`,
    ),
    records: lines(...records),
    rekeyed: {
      ciphertext: toHex(afterRekey.subarray(0, -16)),
      tag: toHex(afterRekey.subarray(-16)),
    },
    finiteField: finiteField.join("\n"),
  };
}

/** A complete handshake in a finite-field `group`; returns its server_hello, annotated. */
async function finiteFieldHello(
  group: DhGroup,
  identity: { publicKey: Uint8Array; privateKeyPkcs8: Uint8Array },
  random: RandomSource,
): Promise<string> {
  const client = new ClientHandshake({ suites: ["chacha20-poly1305"], random });
  const server = new ServerHandshake({ identity, groups: [group], random });
  const hello = await server.onClientHello(client.clientHello());
  const share = await client.onServerHello(hello);
  const { result } = await client.onServerAuth(await server.onClientShare(share));
  if (result.group.name !== group.name) throw new Error(`${group.name}: another group was chosen`);
  const frame = encodeFrame(hello);
  return `server_hello, group ${group.name}: frame of ${frame.length} bytes\n` +
    frameText(hello, false);
}

/** A frame's header line and its annotated body, then (if `whole`) every byte. */
function frameText(body: Uint8Array, whole: boolean): string {
  const frame = encodeFrame(body);
  return lines(
    `header  ${toHex(frame.subarray(0, 4))}          body length ${body.length}`,
    "offset  bytes                                meaning",
    annotate(body),
    ...(whole ? ["whole frame:", dump(frame)] : []),
  );
}

function lines(...parts: string[]): string {
  return parts.map((part) => part + "\n").join("");
}

function equal(code: Uint8Array, spec: Uint8Array, what: string): void {
  if (toHex(code) !== toHex(spec)) {
    throw new Error(`${what} differs:\n  code: ${toHex(code)}\n  spec: ${toHex(spec)}`);
  }
}

async function x25519(scalar: Uint8Array, u: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    concatBytes(X25519_PKCS8_PREFIX, scalar) as Uint8Array<ArrayBuffer>,
    { name: "X25519" },
    false,
    ["deriveBits"],
  );
  const peer = await crypto.subtle.importKey(
    "raw",
    u.slice() as Uint8Array<ArrayBuffer>,
    { name: "X25519" },
    false,
    [],
  );
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: peer }, key, 256));
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, utf8(info), 32));
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

function nonce(counter: number): Uint8Array {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setBigUint64(4, BigInt(counter));
  return bytes;
}

function seal(key: Uint8Array, counter: number, aad: Uint8Array, plaintext: Uint8Array) {
  const cipher = createCipheriv("chacha20-poly1305", key, nonce(counter), { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
}

/** §3.7: "SHA256:" and unpadded standard base64 of SHA-256 over the raw 32-byte key. */
function fingerprintOf(key: Uint8Array): string {
  return "SHA256:" + btoa(String.fromCharCode(...sha256(key))).replace(/=+$/, "");
}
