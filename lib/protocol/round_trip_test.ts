/**
 * Round trips for every message of the protocol: decode(encode(m)) gives m
 * back, and encode(decode(bytes)) gives the same bytes, for random valid
 * values of each type. The message types are read from the schemas that the
 * decoders use, so a new message without an arbitrary here fails the test.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { toHex } from "../bytes.ts";
import { decodeMessage, encodeMessage } from "../wire/mod.ts";
import { FrameError } from "../errors.ts";
import {
  Alert,
  ClientFinished,
  ClientHello,
  ClientShare,
  GROUP_NAMES,
  MAX_CODE_CHARS,
  MAX_DH_VALUE_BYTES,
  MAX_MESSAGE_CHARS,
  RANDOM_BYTES,
  ServerAuth,
  ServerHello,
} from "../handshake/mod.ts";
import {
  AUTH_KEY_BYTES,
  ClientMessage,
  decodeClientMessage,
  decodeServerMessage,
  DEVICE_TOKEN_BYTES,
  encodeAppMessage,
  KDF_SALT_BYTES,
  MAX_FILE_CHUNK_BYTES,
  MAX_HISTORY_PAGE,
  MAX_KDF_CHARS,
  MAX_KEY_BACKUP_BYTES,
  MAX_RECIPIENTS,
  MESSAGE_ID_BYTES,
  ServerMessage,
} from "./mod.ts";

type AppMessage = ClientMessage | ServerMessage;
type AppType = AppMessage["t"];

// Field arbitraries, one per schema in common.ts and codec.ts.
const requestId = fc.nat({ max: 2 ** 32 - 1 });
const uint = fc.maxSafeNat();
const phone = fc.stringMatching(/^\+[1-9]\d{1,14}$/);
const phones = fc.array(phone, { minLength: 1, maxLength: MAX_RECIPIENTS });
const messageId = fc.uint8Array({ minLength: MESSAGE_ID_BYTES, maxLength: MESSAGE_ID_BYTES })
  .map(toHex);
const bytes = (min: number, max = min) => fc.uint8Array({ minLength: min, maxLength: max });
/** Envelopes are opaque bytes to these schemas; short ones keep the runs fast. */
const envelope = bytes(1, 600);
/** Unicode text of at most `maxLength` UTF-16 code units (what the schemas count). */
const text = (maxLength: number) =>
  fc.string({ maxLength, unit: "grapheme" }).filter((s) => s.length <= maxLength);
const code = text(64);
const kdf = text(256);
const keyBackup = bytes(1, MAX_KEY_BACKUP_BYTES);
/** Short chunks, and the largest one: its bytes vary with a seed (generating each is too slow). */
const chunk = fc.oneof(
  bytes(1, 64),
  fc.nat(255).map((seed) =>
    new Uint8Array(MAX_FILE_CHUNK_BYTES).map((_, i) => (i * 7 + seed) & 0xff)
  ),
);

/**
 * A record whose keys come out in the order written here, which must be the
 * schema's order: decoding rebuilds each object in schema order, and the bytes
 * only round-trip if encoding meets the keys in that same order.
 */
function message<T extends Record<string, fc.Arbitrary<unknown>>>(
  fields: T,
): fc.Arbitrary<Values<T>> {
  return fc.record(fields, { noNullPrototype: true }) as fc.Arbitrary<Values<T>>;
}

/** {@linkcode message} with some fields optional: each is there or not. */
function messageWithOptional<T extends Record<string, fc.Arbitrary<unknown>>, O extends keyof T>(
  fields: T,
  optional: O[],
): fc.Arbitrary<Omit<Values<T>, O> & Partial<Pick<Values<T>, O>>> {
  const requiredKeys = Object.keys(fields).filter((k) => !optional.includes(k as O));
  return fc.record(fields, { requiredKeys, noNullPrototype: true }) as fc.Arbitrary<
    Omit<Values<T>, O> & Partial<Pick<Values<T>, O>>
  >;
}

/** The values that a record of arbitraries generates. */
type Values<T> = { [K in keyof T]: T[K] extends fc.Arbitrary<infer U> ? U : never };

/** An arbitrary for every application message type: the compiler refuses a missing one. */
const appMessages: { [K in AppType]: fc.Arbitrary<Extract<AppMessage, { t: K }>> } = {
  // §5
  ping: message({ t: fc.constant("ping"), id: requestId }),
  pong: message({ t: fc.constant("pong"), id: requestId }),
  ok: messageWithOptional({
    t: fc.constant("ok"),
    id: requestId,
    deviceToken: bytes(DEVICE_TOKEN_BYTES),
  }, ["deviceToken"]),
  error: messageWithOptional({
    t: fc.constant("error"),
    id: requestId,
    code,
    message: text(1024),
    retryAfterMs: uint,
    hint: text(1024),
  }, ["retryAfterMs", "hint"]),
  alert: message({ t: fc.constant("alert"), code, message: text(1024) }),
  // §6
  prelogin: message({ t: fc.constant("prelogin"), id: requestId, phone }),
  prelogin_ok: message({
    t: fc.constant("prelogin_ok"),
    id: requestId,
    salt: bytes(KDF_SALT_BYTES),
    kdf,
  }),
  register: message({
    t: fc.constant("register"),
    id: requestId,
    phone,
    salt: bytes(KDF_SALT_BYTES),
    kdf,
    authKey: bytes(AUTH_KEY_BYTES),
    encryptionKey: bytes(32),
    signingKey: bytes(32),
    keyBackup,
  }),
  login: message({ t: fc.constant("login"), id: requestId, phone, authKey: bytes(AUTH_KEY_BYTES) }),
  login_ok: message({
    t: fc.constant("login_ok"),
    id: requestId,
    encryptionKey: bytes(32),
    signingKey: bytes(32),
    keyBackup,
  }),
  change_password: message({
    t: fc.constant("change_password"),
    id: requestId,
    oldAuthKey: bytes(AUTH_KEY_BYTES),
    salt: bytes(KDF_SALT_BYTES),
    kdf,
    authKey: bytes(AUTH_KEY_BYTES),
    keyBackup,
  }),
  // §7
  get_keys: message({ t: fc.constant("get_keys"), id: requestId, phones }),
  keys: message({
    t: fc.constant("keys"),
    id: requestId,
    keys: fc.array(message({ phone, encryptionKey: bytes(32), signingKey: bytes(32) }), {
      maxLength: MAX_RECIPIENTS,
    }),
  }),
  send: message({ t: fc.constant("send"), id: requestId, messageId, to: phones, envelope }),
  sent: message({ t: fc.constant("sent"), id: requestId, seq: uint, duplicate: fc.boolean() }),
  deliver: message({ t: fc.constant("deliver"), seq: uint, storedAt: uint, envelope }),
  ack: message({ t: fc.constant("ack"), seq: uint }),
  history: messageWithOptional({
    t: fc.constant("history"),
    id: requestId,
    with: phones,
    before: uint,
    after: uint,
    limit: fc.integer({ min: 1, max: MAX_HISTORY_PAGE }),
  }, ["before", "after"]),
  history_page: message({
    t: fc.constant("history_page"),
    id: requestId,
    items: fc.array(message({ seq: uint, storedAt: uint, envelope }), { maxLength: 20 }),
  }),
  // §8
  file_begin: message({
    t: fc.constant("file_begin"),
    id: requestId,
    fileId: messageId,
    cipherSize: uint,
    chunkBytes: fc.integer({ min: 1024, max: MAX_FILE_CHUNK_BYTES }),
    chunks: uint,
    readers: phones,
    messageId,
    envelope,
  }),
  file_ready: message({
    t: fc.constant("file_ready"),
    id: requestId,
    fileId: messageId,
    committed: uint,
  }),
  file_chunk: message({
    t: fc.constant("file_chunk"),
    fileId: messageId,
    index: uint,
    data: chunk,
  }),
  file_end: message({ t: fc.constant("file_end"), id: requestId, fileId: messageId }),
  file_done: message({ t: fc.constant("file_done"), id: requestId, fileId: messageId }),
  file_failed: message({
    t: fc.constant("file_failed"),
    fileId: messageId,
    code,
    message: text(1024),
  }),
  file_share: message({
    t: fc.constant("file_share"),
    id: requestId,
    fileId: messageId,
    readers: phones,
    messageId,
    envelope,
  }),
  file_delete: message({ t: fc.constant("file_delete"), id: requestId, fileId: messageId }),
  file_get: message({ t: fc.constant("file_get"), id: requestId, fileId: messageId, from: uint }),
  file_info: message({
    t: fc.constant("file_info"),
    id: requestId,
    fileId: messageId,
    cipherSize: uint,
    chunkBytes: fc.nat({ max: MAX_FILE_CHUNK_BYTES }),
    chunks: uint,
    committed: uint,
  }),
  file_data: message({ t: fc.constant("file_data"), fileId: messageId, index: uint, data: chunk }),
  file_list: message({ t: fc.constant("file_list"), id: requestId }),
  files: message({
    t: fc.constant("files"),
    id: requestId,
    files: fc.array(
      message({
        fileId: messageId,
        owner: phone,
        cipherSize: uint,
        chunks: uint,
        committed: uint,
        createdAt: uint,
        envelopes: fc.array(envelope, { maxLength: 4 }),
      }),
      { maxLength: 5 },
    ),
  }),
};

/** The handshake messages (§3), each decoded with its own schema. */
const handshakeMessages: [z.ZodType, fc.Arbitrary<{ t: string }>][] = [
  [
    ClientHello,
    message({
      t: fc.constant("client_hello"),
      versions: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 }),
      groups: fc.array(fc.string({ maxLength: 32 }), { minLength: 1, maxLength: 16 }),
      random: bytes(RANDOM_BYTES),
    }),
  ],
  [
    ServerHello,
    messageWithOptional({
      t: fc.constant("server_hello"),
      version: fc.nat({ max: 255 }),
      group: fc.constantFrom(...GROUP_NAMES),
      p: bytes(1, MAX_DH_VALUE_BYTES),
      g: bytes(1, 8),
      random: bytes(RANDOM_BYTES),
      share: bytes(1, MAX_DH_VALUE_BYTES),
    }, ["p", "g"]),
  ],
  [ClientShare, message({ t: fc.constant("client_share"), share: bytes(1, MAX_DH_VALUE_BYTES) })],
  [
    ServerAuth,
    message({
      t: fc.constant("server_auth"),
      identity: bytes(32),
      signature: bytes(64),
      finished: bytes(32),
    }),
  ],
  [ClientFinished, message({ t: fc.constant("client_finished"), finished: bytes(32) })],
  [Alert, message({ t: fc.constant("alert"), code, message: text(1024) })],
];

/** The `t` of each message a decoder accepts, read from its discriminated union. */
function typesOf(union: { options: readonly z.ZodObject[] }): string[] {
  return union.options.map((option) => (option.shape.t as z.ZodLiteral<string>).value);
}

const clientTypes = new Set(typesOf(ClientMessage));
const serverTypes = new Set(typesOf(ServerMessage));

/** Checks both round trips of `m` through the decoders that accept its type. */
function assertRoundTrips(m: AppMessage): void {
  const bytes = encodeAppMessage(m);
  const decoders = [
    ...(clientTypes.has(m.t) ? [decodeClientMessage] : []),
    ...(serverTypes.has(m.t) ? [decodeServerMessage] : []),
  ];
  assert.ok(decoders.length > 0, `no decoder accepts "${m.t}"`);
  for (const decode of decoders) {
    const decoded = decode(bytes);
    assert.deepEqual(decoded, m);
    assert.deepEqual(encodeAppMessage(decoded), bytes);
  }
}

Deno.test("every type the client and server decoders accept has a round-trip arbitrary", () => {
  const decoded = [...new Set([...clientTypes, ...serverTypes])].sort();
  assert.deepEqual(Object.keys(appMessages).sort(), decoded);
});

for (const [type, arbitrary] of Object.entries(appMessages)) {
  Deno.test(`"${type}": decode(encode(m)) is m and encode(decode(bytes)) is bytes`, () => {
    fc.assert(fc.property(arbitrary as fc.Arbitrary<AppMessage>, assertRoundTrips), {
      numRuns: 50,
    });
  });
}

Deno.test("every handshake message round-trips through its schema", () => {
  const handshakeTypes = handshakeMessages.map(([schema]) =>
    ((schema as z.ZodObject).shape.t as z.ZodLiteral<string>).value
  );
  assert.deepEqual(handshakeTypes, [
    "client_hello",
    "server_hello",
    "client_share",
    "server_auth",
    "client_finished",
    "alert",
  ]);
  for (const [schema, arbitrary] of handshakeMessages) {
    fc.assert(
      fc.property(arbitrary, (m) => {
        const bytes = encodeMessage(m);
        const decoded = decodeMessage(schema, bytes, m.t) as { t: string };
        assert.deepEqual(decoded, m);
        assert.deepEqual(encodeMessage(decoded), bytes);
      }),
      { numRuns: 50 },
    );
  }
});

Deno.test("each named text and list limit admits its maximum and refuses one more", () => {
  const error = { t: "error", id: 1, code: "x", message: "m" } as const;
  const prelogin = { t: "prelogin_ok", id: 1, salt: new Uint8Array(KDF_SALT_BYTES), kdf: "" };
  const chars = (n: number) => "é".repeat(n);
  const cases: [AppMessage, string, (n: number) => unknown, number][] = [
    [error, "code", chars, MAX_CODE_CHARS],
    [error, "message", chars, MAX_MESSAGE_CHARS],
    [error, "hint", chars, MAX_MESSAGE_CHARS],
    [prelogin as AppMessage, "kdf", chars, MAX_KDF_CHARS],
    [
      { t: "get_keys", id: 1, phones: [] },
      "phones",
      (n) => Array(n).fill("+15551230001"),
      MAX_RECIPIENTS,
    ],
  ];
  for (const [base, field, value, max] of cases) {
    const sized = (n: number) => ({ ...base, [field]: value(n) }) as AppMessage;
    assertRoundTrips(sized(max));
    const decode = clientTypes.has(base.t) ? decodeClientMessage : decodeServerMessage;
    assert.throws(
      () => decode(encodeAppMessage(sized(max + 1))),
      (e: unknown) => e instanceof FrameError && e.code === "bad_message",
      `${base.t}.${field} of ${max + 1}`,
    );
  }
});
