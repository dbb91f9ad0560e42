/**
 * Record cipher throughput: every AEAD backend (OpenSSL's libcrypto through
 * FFI, node:crypto) and suite (ChaCha20-Poly1305, AES-256-GCM), bare at the
 * boundary of lib/crypto/aead_backend.ts (into caller-owned buffers) and through
 * ssp's RecordSealer/RecordOpener, beside WebCrypto AES-256-GCM and
 * `openssl speed`, sealing and opening 16, 64 and 256 KiB records; and the
 * whole path of a 256 KiB file chunk out of a sender (end-to-end seal,
 * encoding, record seal).
 *
 * Run with `deno task bench cipher`, or alone with
 * `deno run --allow-ffi --allow-run=openssl scripts/bench/cipher.ts`. Without
 * `--allow-ffi` the OpenSSL rows read "not loaded"; without `--allow-run` the
 * `openssl speed` rows are left out.
 *
 * @module
 */
import {
  AEAD_SUITES,
  type AeadBackend,
  aeadBackend,
  type AeadSuite,
  loadOpensslBackend,
  NODE_BACKEND,
  TAG_BYTES,
} from "../../lib/crypto/mod.ts";
import { concatBytes } from "../../lib/bytes.ts";
import {
  encodeFrameHeader,
  encodeMessageTransient,
  encodeMessageWithBytes,
  RecordOpener,
  RecordSealer,
} from "../../lib/wire/mod.ts";
import { sealChunk, sealChunkInPlace, sealChunkParts } from "../../lib/e2e/mod.ts";
import { median, randomBytes } from "./_sample.ts";
import process from "node:process";

const KIB = 1024;
const MIB = 1024 * KIB;
/** Record sizes compared; 16 KiB is a TLS-sized record, 256 KiB a large file chunk. */
const RECORD_SIZES = [16 * KIB, 64 * KIB, 256 * KIB];
/**
 * Each timed cell stops after this much CPU time or {@linkcode CELL_BYTES}, whichever comes
 * first. Rates are per CPU second of this process (all its threads), as `openssl speed`
 * reports by default: on a shared machine wall-clock rates mostly measure the other jobs.
 */
const CELL_MS = 1000;
const CELL_BYTES = 256 * MIB;
/** Records for `open` are sealed untimed in batches of about this many bytes. */
const OPEN_BATCH_BYTES = 32 * MIB;
const REPEATS = 3;
const HEADER = new Uint8Array([0, 0, 0, 0]);

type MaybePromise<T> = T | Promise<T>;

/** One direction of a channel: seal records in order, open them in the same order. */
interface Channel {
  seal(plaintext: Uint8Array): MaybePromise<Uint8Array>;
  open(sealed: Uint8Array): MaybePromise<Uint8Array>;
}

interface Contender {
  name: string;
  channel(): Promise<Channel>;
}

/** CPU time (user + system) this process has used, in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** 12-byte nonce = 4 zero bytes || 64-bit big-endian counter, as the record layer uses. */
function counterNonce(counter: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  return nonce;
}

const OPENSSL = loadOpensslBackend();

/**
 * A backend at its boundary: each record sealed into, and opened into, one
 * buffer the caller keeps (no allocation per record), with counter nonces.
 */
function bare(backend: AeadBackend | string, suite: AeadSuite, name: string): Contender {
  return {
    name: `${name} ${suite}, into caller-owned buffers`,
    channel() {
      if (typeof backend === "string") return Promise.reject(new Error(backend));
      const key = randomBytes(32);
      const out = new Uint8Array(256 * KIB + TAG_BYTES);
      const tag = new Uint8Array(TAG_BYTES);
      let sent = 0;
      let received = 0;
      return Promise.resolve({
        seal(plaintext) {
          const sealed = out.subarray(0, plaintext.length + TAG_BYTES);
          backend.sealInto(
            suite,
            key,
            counterNonce(sent++),
            HEADER,
            [plaintext],
            [sealed.subarray(0, plaintext.length)],
            tag,
          );
          sealed.set(tag, plaintext.length);
          return sealed; // reused by the next call: openRate() copies what it keeps
        },
        open(sealed) {
          const length = sealed.length - TAG_BYTES;
          const plaintext = out.subarray(0, length);
          backend.openInto(
            suite,
            key,
            counterNonce(received++),
            HEADER,
            [sealed.subarray(0, length)],
            sealed.subarray(length),
            [plaintext],
          );
          return plaintext;
        },
      });
    },
  };
}

/** ssp's record layer with this process's backend: one new buffer per sealed or opened record. */
function records(suite: AeadSuite): Contender {
  return {
    name: `ssp RecordSealer/Opener, ${aeadBackend().info.name} ${suite}`,
    channel() {
      const key = randomBytes(32);
      const sealer = new RecordSealer(key, undefined, suite);
      const opener = new RecordOpener(key, undefined, suite);
      return Promise.resolve({
        seal: (plaintext) => sealer.seal(HEADER, plaintext),
        open: (sealed) => opener.open(HEADER, sealed),
      });
    },
  };
}

const CONTENDERS: Contender[] = [
  ...AEAD_SUITES.flatMap((suite) => [
    bare(OPENSSL, suite, "OpenSSL (FFI)"),
    bare(NODE_BACKEND, suite, "node:crypto"),
    records(suite),
  ]),
  {
    name: "WebCrypto AES-256-GCM",
    async channel() {
      const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
        "encrypt",
        "decrypt",
      ]);
      let sent = 0;
      let received = 0;
      return {
        seal: async (plaintext) =>
          new Uint8Array(
            await crypto.subtle.encrypt(
              { name: "AES-GCM", iv: counterNonce(sent++), additionalData: HEADER },
              key,
              plaintext as Uint8Array<ArrayBuffer>,
            ),
          ),
        open: async (sealed) =>
          new Uint8Array(
            await crypto.subtle.decrypt(
              { name: "AES-GCM", iv: counterNonce(received++), additionalData: HEADER },
              key,
              sealed as Uint8Array<ArrayBuffer>,
            ),
          ),
      };
    },
  },
];

/** Seals `size`-byte records for up to CELL_MS / CELL_BYTES; returns MiB/s. */
async function sealRate(contender: Contender, size: number): Promise<number> {
  const channel = await contender.channel();
  const plaintext = randomBytes(size);
  let bytes = 0;
  const start = cpuMs();
  let elapsed = 0;
  while (elapsed < CELL_MS && bytes < CELL_BYTES) {
    const sealed = channel.seal(plaintext);
    if (sealed instanceof Promise) await sealed;
    bytes += size;
    elapsed = cpuMs() - start;
  }
  return bytes / MIB / (elapsed / 1000);
}

/** Opens `size`-byte records, sealed untimed in batches, for up to CELL_MS / CELL_BYTES. */
async function openRate(contender: Contender, size: number): Promise<number> {
  const channel = await contender.channel();
  const plaintext = randomBytes(size);
  const batchRecords = Math.max(1, Math.floor(OPEN_BATCH_BYTES / size));
  let bytes = 0;
  let elapsed = 0;
  while (elapsed < CELL_MS && bytes < CELL_BYTES) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < batchRecords; i++) batch.push((await channel.seal(plaintext)).slice());
    const start = cpuMs();
    for (const sealed of batch) {
      const opened = channel.open(sealed);
      if (opened instanceof Promise) await opened;
      bytes += size;
      if (bytes >= CELL_BYTES) break;
    }
    elapsed += cpuMs() - start;
  }
  return bytes / MIB / (elapsed / 1000);
}

async function medianOf(measure: () => Promise<number>): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await measure());
  return median(runs);
}

const FILE_ID = "0123456789abcdef0123456789abcdef";

/** The sender's work for chunk `index`, returning the frame's length. */
const CHUNK_PATHS: {
  name: string;
  frame(
    sealer: RecordSealer,
    key: Uint8Array,
    index: number,
    chunk: Uint8Array,
    tag: Uint8Array,
  ): number;
}[] = [
  {
    name: "joined: sealChunk, encodeMessage, RecordSealer.seal (one frame buffer)",
    frame(sealer, key, index, chunk) {
      const data = sealChunk(key, index, false, chunk);
      const body = encodeMessageTransient({ t: "file_chunk", fileId: FILE_ID, index, data });
      const header = encodeFrameHeader(body.length + TAG_BYTES);
      return concatBytes(header, ...sealer.sealParts(header, [body])).length; // one frame buffer
    },
  },
  {
    name: "in pieces: sealChunkParts, encodeMessageWithBytes, RecordSealer.sealFrame",
    frame(sealer, key, index, chunk) {
      const pieces = encodeMessageWithBytes(
        { t: "file_chunk", fileId: FILE_ID, index },
        "data",
        sealChunkParts(key, index, false, chunk),
      );
      const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
      return sealer.sealFrame(encodeFrameHeader(length + TAG_BYTES), pieces).length;
    },
  },
  {
    name: "in place (as ssp sends): sealChunkInPlace, encodeMessageWithBytes, sealFrame",
    frame(sealer, key, index, chunk, tag) {
      sealChunkInPlace(key, index, false, chunk, tag);
      const pieces = encodeMessageWithBytes(
        { t: "file_chunk", fileId: FILE_ID, index },
        "data",
        [chunk, tag],
      );
      const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
      return sealer.sealFrame(encodeFrameHeader(length + TAG_BYTES), pieces).length;
    },
  },
];

/** µs per 256 KiB chunk for one sender path. */
function chunkPathMicros(path: (typeof CHUNK_PATHS)[number]): number {
  const sealer = new RecordSealer(randomBytes(32));
  const key = randomBytes(32);
  const chunk = randomBytes(256 * KIB);
  const tag = new Uint8Array(TAG_BYTES);
  const started = cpuMs();
  let index = 0;
  while (cpuMs() - started < CELL_MS) path.frame(sealer, key, index++, chunk, tag);
  return (cpuMs() - started) * 1000 / index;
}

/**
 * Measures every contender at every record size and returns the results as a
 * Markdown section (medians of three runs, MiB/s of plaintext).
 */
/**
 * `openssl speed -evp NAME -bytes SIZE` (encrypt, then with `-decrypt`),
 * in MiB per CPU second (openssl speed's own measure), or undefined without `--allow-run` or an `openssl` binary.
 */
async function opensslSpeed(
  evp: string,
  size: number,
  decrypt: boolean,
): Promise<number | undefined> {
  if ((await Deno.permissions.query({ name: "run", command: "openssl" })).state !== "granted") {
    return undefined;
  }
  try {
    const { code, stdout } = await new Deno.Command("openssl", {
      args: [
        "speed",
        ...(decrypt ? ["-decrypt"] : []),
        "-evp",
        evp,
        "-bytes",
        `${size}`,
        "-seconds",
        "1",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    const last = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
    const kilobytes = /\s([\d.]+)k$/.exec(last);
    return code === 0 && kilobytes ? Number(kilobytes[1]) * 1000 / MIB : undefined;
  } catch {
    return undefined;
  }
}

export async function run(): Promise<string> {
  const rows: string[] = [];
  for (const contender of CONTENDERS) {
    const cells: string[] = [];
    for (const size of RECORD_SIZES) {
      try {
        const seal = await medianOf(() => sealRate(contender, size));
        const open = await medianOf(() => openRate(contender, size));
        cells.push(`${seal.toFixed(0)} / ${open.toFixed(0)}`);
      } catch {
        cells.push("not loaded");
      }
    }
    rows.push(`| ${contender.name} | ${cells.join(" | ")} |`);
  }
  for (const suite of AEAD_SUITES) {
    const cells: string[] = [];
    for (const size of RECORD_SIZES) {
      const seal = await opensslSpeed(suite, size, false);
      const open = await opensslSpeed(suite, size, true);
      if (seal === undefined || open === undefined) break;
      cells.push(`${seal.toFixed(0)} / ${open.toFixed(0)}`);
    }
    if (cells.length === RECORD_SIZES.length) {
      rows.push(`| \`openssl speed -evp ${suite}\` (C, no JavaScript) | ${cells.join(" | ")} |`);
    }
  }
  const pathRows: string[] = [];
  for (const path of CHUNK_PATHS) {
    const micros = await medianOf(() => Promise.resolve(chunkPathMicros(path)));
    pathRows.push(
      `| ${path.name} | ${micros.toFixed(0)} | ${(256 * KIB / MIB / (micros / 1e6)).toFixed(0)} |`,
    );
  }
  const sizes = RECORD_SIZES.map((size) => `${size / KIB} KiB`);
  return [
    "## Record cipher throughput",
    "",
    `Seal / open, MiB of plaintext per CPU second, median of ${REPEATS} runs of ` +
    `~${CELL_MS / 1000} CPU s or ` +
    `${CELL_BYTES / MIB} MiB each. Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
    `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs; this ` +
    `process's backend: ${aeadBackend().info.detail}, hardware AES ${aeadBackend().info.hardwareAes}.`,
    "",
    `| cipher | ${sizes.join(" | ")} |`,
    `| --- | ${sizes.map(() => "---:").join(" | ")} |`,
    ...rows,
    "",
    "### A 256 KiB file chunk leaving the sender",
    "",
    "End-to-end seal, message encoding and record seal of one `file_chunk`, CPU time, median " +
    `of ${REPEATS} runs of ~${CELL_MS / 1000} CPU s.`,
    "",
    "| path | CPU µs per chunk | MiB per CPU s |",
    "| --- | ---: | ---: |",
    ...pathRows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  console.log(await run());
}
