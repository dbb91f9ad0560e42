/**
 * Prints the worked example of docs/protocol.md, Appendix D: one complete ssp/1
 * handshake over X25519 between the real `ClientHandshake` and
 * `ServerHandshake` (in memory, no sockets), then the first records each way,
 * with every frame annotated byte by byte.
 *
 * ssp's code draws its randomness from `crypto.getRandomValues` and
 * `crypto.subtle.generateKey`, with no way to inject it. So that the output is
 * reproducible, this script replaces both with a seeded generator
 * (SHA-256 in counter mode) before running the handshake. That is the only
 * change: the messages, transcript, keys and records are produced by the
 * library code exactly as in a real connection.
 *
 * The script then recomputes every value independently from the formulas in
 * docs/protocol.md (node:crypto HKDF, HMAC, Ed25519, ChaCha20-Poly1305 and
 * WebCrypto X25519) and fails if anything differs, so the document and the
 * code cannot silently drift apart.
 *
 *     deno run scripts/protocol_example.ts
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
import { decode } from "@msgpack/msgpack";
import { encodeMessage } from "../lib/codec.ts";
import { namedGroup, validateGroupParameters } from "../lib/dh.ts";
import { readDhParamsFile } from "../lib/dhparam.ts";
import { encodeFrame, encodeFrameHeader } from "../lib/frames.ts";
import { ClientHandshake, ServerHandshake } from "../lib/handshake/mod.ts";
import { fingerprint } from "../lib/sign.ts";
import { RecordOpener, RecordSealer } from "../lib/xor.ts";

// ---------------------------------------------------------------------------
// Deterministic randomness (the only thing this script changes).

const SEED = new TextEncoder().encode("ssp/1 protocol.md worked example");
let drbgCounter = 0;
let drbgPool = new Uint8Array(0);

function drbg(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    if (drbgPool.length === 0) {
      const counter = new Uint8Array(4);
      new DataView(counter.buffer).setUint32(0, drbgCounter++);
      drbgPool = new Uint8Array(createHash("sha256").update(SEED).update(counter).digest());
    }
    const take = Math.min(n - filled, drbgPool.length);
    out.set(drbgPool.subarray(0, take), filled);
    drbgPool = drbgPool.subarray(take);
    filled += take;
  }
  return out;
}

const X25519_PKCS8_PREFIX = hex("302e020100300506032b656e04220420");
const ED25519_PKCS8_PREFIX = hex("302e020100300506032b657004220420");
/** Ephemeral X25519 private scalars handed out, in order (the server makes its key pair first, in onClientHello). */
const scalars: Uint8Array[] = [];

(crypto as unknown as { getRandomValues: (a: Uint8Array) => Uint8Array }).getRandomValues = (
  array: Uint8Array,
) => {
  array.set(drbg(array.length));
  return array;
};
const subtle = crypto.subtle as unknown as {
  generateKey: (algorithm: { name: string }, ...rest: unknown[]) => Promise<unknown>;
};
const realGenerateKey = subtle.generateKey.bind(subtle);
subtle.generateKey = async (algorithm, ...rest) => {
  if (algorithm.name !== "X25519") return await realGenerateKey(algorithm, ...rest);
  const scalar = drbg(32);
  scalars.push(scalar);
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    concat(X25519_PKCS8_PREFIX, scalar),
    { name: "X25519" },
    false,
    ["deriveBits"],
  );
  const publicRaw = await x25519(scalar, BASE_POINT);
  const publicKey = await crypto.subtle.importKey("raw", publicRaw, { name: "X25519" }, true, []);
  return { privateKey, publicKey };
};

// ---------------------------------------------------------------------------
// Helpers.

function hex(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array, what: string): void {
  if (toHex(a) !== toHex(b)) {
    throw new Error(`${what} differs:\n  code: ${toHex(a)}\n  spec: ${toHex(b)}`);
  }
}

const BASE_POINT = concat(Uint8Array.of(9), new Uint8Array(31));

async function x25519(scalar: Uint8Array, u: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    concat(X25519_PKCS8_PREFIX, scalar),
    { name: "X25519" },
    false,
    ["deriveBits"],
  );
  const peer = await crypto.subtle.importKey("raw", concat(u), { name: "X25519" }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: peer }, key, 256));
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, new TextEncoder().encode(info), length));
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

function seal(key: Uint8Array, counter: number, aad: Uint8Array, plaintext: Uint8Array) {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return concat(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
}

/** Hex dump, 32 bytes a line. */
function dump(bytes: Uint8Array, indent = "  "): string {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 32) lines.push(indent + toHex(bytes.subarray(i, i + 32)));
  return lines.join("\n");
}

/**
 * Annotates a MessagePack body element by element. Handles what ssp's encoder
 * emits: fixmap, fixarray, fixstr/str8, bin8/bin16, positive fixint and uint8..uint32.
 */
function annotate(body: Uint8Array): string {
  const out: string[] = [];
  let pos = 0;
  const text = (start: number, n: number) =>
    new TextDecoder().decode(body.subarray(start, start + n));
  const line = (start: number, headLen: number, dataLen: number, note: string, keep = 8) => {
    const head = toHex(body.subarray(start, start + headLen));
    const data = body.subarray(start + headLen, start + headLen + dataLen);
    const shown = data.length > keep ? `${toHex(data.subarray(0, keep))}…` : toHex(data);
    out.push(`  ${String(start).padStart(4)}  ${(head + " " + shown).trim().padEnd(36)} ${note}`);
  };
  const element = (depth: number): void => {
    const start = pos;
    const b = body[pos]!;
    const pad = "  ".repeat(depth);
    if (b >= 0x80 && b <= 0x8f) {
      line(start, 1, 0, `${pad}fixmap, ${b & 0x0f} entries`);
      pos += 1;
      for (let i = 0; i < (b & 0x0f); i++) {
        element(depth + 1);
        element(depth + 2);
      }
    } else if (b >= 0x90 && b <= 0x9f) {
      line(start, 1, 0, `${pad}fixarray, ${b & 0x0f} elements`);
      pos += 1;
      for (let i = 0; i < (b & 0x0f); i++) element(depth + 1);
    } else if (b >= 0xa0 && b <= 0xbf) {
      const n = b & 0x1f;
      line(start, 1, n, `${pad}fixstr(${n}) "${text(start + 1, n)}"`, 16);
      pos += 1 + n;
    } else if (b === 0xd9) {
      const n = body[pos + 1]!;
      line(start, 2, n, `${pad}str8(${n}) "${text(start + 2, n)}"`, 16);
      pos += 2 + n;
    } else if (b === 0xc4) {
      const n = body[pos + 1]!;
      line(start, 2, n, `${pad}bin8(${n})`);
      pos += 2 + n;
    } else if (b === 0xc5) {
      const n = (body[pos + 1]! << 8) | body[pos + 2]!;
      line(start, 3, n, `${pad}bin16(${n})`);
      pos += 3 + n;
    } else if (b <= 0x7f) {
      line(start, 1, 0, `${pad}positive fixint ${b}`);
      pos += 1;
    } else if (b === 0xcc || b === 0xcd || b === 0xce) {
      const n = b === 0xcc ? 1 : b === 0xcd ? 2 : 4;
      let v = 0;
      for (let i = 1; i <= n; i++) v = v * 256 + body[pos + i]!;
      line(start, 1 + n, 0, `${pad}uint${8 * n} ${v}`);
      pos += 1 + n;
    } else {
      throw new Error(`annotate: unexpected MessagePack byte 0x${b.toString(16)} at ${pos}`);
    }
  };
  element(0);
  if (pos !== body.length) throw new Error("annotate: trailing bytes");
  return out.join("\n");
}

function showFrame(title: string, body: Uint8Array, whole = true): void {
  const frame = encodeFrame(body);
  console.log(`\n### ${title}: frame of ${frame.length} bytes (body ${body.length})\n`);
  console.log("```text");
  console.log(`header  ${toHex(frame.subarray(0, 4))}          body length ${body.length}`);
  console.log("offset  bytes                                meaning");
  console.log(annotate(body));
  if (whole) {
    console.log("whole frame:");
    console.log(dump(frame));
  }
  console.log("```");
}

// ---------------------------------------------------------------------------
// The run.

const identitySeed = drbg(32);
const identityPkcs8 = concat(ED25519_PKCS8_PREFIX, identitySeed);
const identityPublic = new Uint8Array(
  createPublicKey(
    createPrivateKey({ key: Buffer.from(identityPkcs8), format: "der", type: "pkcs8" }),
  )
    .export({ format: "der", type: "spki" }),
).subarray(12);

const client = new ClientHandshake({
  groups: ["x25519", "ffdhe2048", "ffdhe3072", "ffdhe4096", "custom"],
});
const server = new ServerHandshake({
  identity: { publicKey: identityPublic, privateKeyPkcs8: identityPkcs8 },
  groups: [namedGroup("x25519"), namedGroup("ffdhe2048")],
});

const m1 = client.clientHello();
const m2 = await server.onClientHello(m1);
const m3 = await client.onServerHello(m2);
const m4 = await server.onClientShare(m3);
const { clientFinished: m5, result: clientResult } = await client.onServerAuth(m4);
const serverResult = server.onClientFinished(m5);

// Independent recomputation from docs/protocol.md.
const [serverScalar, clientScalar] = scalars as [Uint8Array, Uint8Array];
const ch = decode(m1) as { random: Uint8Array };
const sh = decode(m2) as { random: Uint8Array; share: Uint8Array };
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
const context = new TextEncoder().encode("ssp/1 server signature\0");
const signed = concat(context, th2, identityPublic);
const spki = concat(hex("302a300506032b6570032100"), identityPublic);
const publicKeyObject = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
if (!nodeVerify(null, signed, publicKeyObject, sa.signature)) throw new Error("signature");
equal(sa.identity, identityPublic, "identity");
equal(sa.finished, hmac(keySf, concat(th2, identityPublic, sa.signature)), "server finished");
const th3 = sha256(encodeFrame(m1), encodeFrame(m2), encodeFrame(m3), encodeFrame(m4));
equal(cf.finished, hmac(keyCf, th3), "client finished");
// The same keys with HKDF written out (L = 32, so Expand is a single HMAC block).
const utf8 = (text: string) => new TextEncoder().encode(text);
const prk = hmac(th2, secret);
equal(keyC2s, hmac(prk, concat(utf8("ssp/1 c2s"), Uint8Array.of(1))), "K_c2s, expanded");
equal(keyCf, hmac(prk, concat(utf8("ssp/1 client finished"), Uint8Array.of(1))), "K_cf, expanded");
equal(clientResult.transcriptHash, th3, "transcript hash (client)");
equal(serverResult.transcriptHash, th3, "transcript hash (server)");
equal(clientResult.sendKey, keyC2s, "client send key");
equal(serverResult.receiveKey, keyC2s, "server receive key");
equal(clientResult.receiveKey, keyS2c, "client receive key");
equal(serverResult.sendKey, keyS2c, "server send key");

// First records: ping 1 from the client, pong 1 from the server.
const clientSealer = new RecordSealer(clientResult.sendKey);
const serverOpener = new RecordOpener(serverResult.receiveKey);
const serverSealer = new RecordSealer(serverResult.sendKey);
const clientOpener = new RecordOpener(clientResult.receiveKey);

function record(sealer: RecordSealer, plaintext: Uint8Array) {
  const header = encodeFrameHeader(plaintext.length + 16);
  return { header, sealed: sealer.seal(header, plaintext) };
}
const ping = encodeMessage({ t: "ping", id: 1 });
const pong = encodeMessage({ t: "pong", id: 1 });
const r1 = record(clientSealer, ping);
equal(serverOpener.open(r1.header, r1.sealed), ping, "ping opened");
equal(r1.sealed, seal(keyC2s, 0, r1.header, ping), "ping record");
const r2 = record(serverSealer, pong);
equal(clientOpener.open(r2.header, r2.sealed), pong, "pong opened");
equal(r2.sealed, seal(keyS2c, 0, r2.header, pong), "pong record");
const ping2 = encodeMessage({ t: "ping", id: 2 });
const r3 = record(clientSealer, ping2);
equal(r3.sealed, seal(keyC2s, 1, r3.header, ping2), "second ping record");

// Rekeying: with a limit of one record per key, the second record uses epoch 1.
const rekeyed = hkdf(keyC2s, new Uint8Array(0), "ssp/1 rekey");
equal(
  rekeyed,
  hmac(hmac(new Uint8Array(32), keyC2s), concat(utf8("ssp/1 rekey"), Uint8Array.of(1))),
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

/** "SHA256:" and unpadded standard base64 of SHA-256 over the raw 32-byte key. */
function fingerprintOf(key: Uint8Array): string {
  return "SHA256:" + Buffer.from(sha256(key)).toString("base64").replace(/=+$/, "");
}
if (fingerprintOf(identityPublic) !== fingerprint(identityPublic)) throw new Error("fingerprint");

// ---------------------------------------------------------------------------
// Output (Markdown fragments pasted into docs/protocol.md, Appendix D).

console.log("## Inputs (from the seeded generator)\n");
console.log("```text");
console.log(`server identity seed (Ed25519)   ${toHex(identitySeed)}`);
console.log(`server identity public key       ${toHex(identityPublic)}`);
console.log(`its fingerprint                  ${fingerprintOf(identityPublic)}`);
console.log(`client ephemeral X25519 scalar   ${toHex(clientScalar)}`);
console.log(`server ephemeral X25519 scalar   ${toHex(serverScalar)}`);
console.log(`client random                    ${toHex(ch.random)}`);
console.log(`server random                    ${toHex(sh.random)}`);
console.log("```");

showFrame("1. client_hello", m1);
showFrame("2. server_hello", m2);
showFrame("3. client_share", m3);
showFrame("4. server_auth", m4);
showFrame("5. client_finished", m5);

console.log("\n## Derived values\n");
console.log("```text");
console.log(`X25519 shared secret Z     ${toHex(secret)}`);
console.log(`TH2 = SHA-256(frames 1-3)  ${toHex(th2)}`);
console.log(`K_c2s                      ${toHex(keyC2s)}`);
console.log(`K_s2c                      ${toHex(keyS2c)}`);
console.log(`K_sf (server finished)     ${toHex(keySf)}`);
console.log(`K_cf (client finished)     ${toHex(keyCf)}`);
console.log(`signed content (${signed.length} bytes)`);
console.log(dump(signed));
console.log(`signature                  ${toHex(sa.signature)}`);
console.log(`server finished            ${toHex(sa.finished)}`);
console.log(`TH3 = SHA-256(frames 1-4)  ${toHex(th3)}`);
console.log(`client finished            ${toHex(cf.finished)}`);
console.log(`K_c2s after one rekey      ${toHex(rekeyed)}`);
console.log("```");

console.log("\n## Records\n");
console.log("```text");
for (
  const [what, plain, r, key, counter] of [
    ["client → server ping {t: ping, id: 1}", ping, r1, "K_c2s", 0],
    ["server → client pong {t: pong, id: 1}", pong, r2, "K_s2c", 0],
    ["client → server ping {t: ping, id: 2}", ping2, r3, "K_c2s", 1],
  ] as const
) {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  console.log(what);
  console.log(`  plaintext  ${toHex(plain)}`);
  console.log(`  key        ${key}, nonce ${toHex(nonce)}, AAD ${toHex(r.header)}`);
  console.log(`  frame      ${toHex(r.header)} ${toHex(r.sealed.subarray(0, -16))}`);
  console.log(`             tag ${toHex(r.sealed.subarray(-16))}`);
}
console.log(
  `after a rekey (limit 1 record), the 2nd ping is sealed under epoch-1 key, nonce counter 0:`,
);
console.log(
  `  ciphertext ${toHex(afterRekey.subarray(0, -16))} tag ${toHex(afterRekey.subarray(-16))}`,
);
console.log("```");

// server_hello in the finite-field groups: an RFC 7919 group and a custom one.
const dh2048 = await readDhParamsFile(new URL("../testdata/dh2048.pem", import.meta.url));
for (
  const group of [namedGroup("ffdhe2048"), validateGroupParameters(dh2048.p, dh2048.g)]
) {
  const ffClient = new ClientHandshake();
  const ffServer = new ServerHandshake({
    identity: { publicKey: identityPublic, privateKeyPkcs8: identityPkcs8 },
    groups: [group],
  });
  const hello = await ffServer.onClientHello(ffClient.clientHello());
  const share = await ffClient.onServerHello(hello);
  const { result } = await ffClient.onServerAuth(await ffServer.onClientShare(share));
  if (result.group.name !== group.name) throw new Error("finite-field run");
  showFrame(`server_hello, group ${group.name}`, hello, false);
  showFrame(`client_share, group ${group.name}`, share, false);
}

console.error("\nevery value above was recomputed independently and matched");
