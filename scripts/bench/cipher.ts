/**
 * Record cipher throughput: ssp's RecordSealer/RecordOpener (ChaCha20-Poly1305
 * from node:crypto) against AES-256-GCM from WebCrypto and from node:crypto,
 * sealing and opening 16, 64 and 256 KiB records; and the whole path of a
 * 256 KiB file chunk out of a sender (end-to-end seal, encoding, record seal)
 * with the pieces joined into one buffer at each step, or kept apart.
 *
 * Run with `deno task bench cipher`, or alone with
 * `deno run scripts/bench/cipher.ts` (it needs no permissions).
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { concatBytes } from "../../lib/bytes.ts";
import { encodeMessageTransient, encodeMessageWithBytes } from "../../lib/codec.ts";
import { sealChunk, sealChunkParts } from "../../lib/e2e/stream.ts";
import { encodeFrameHeader } from "../../lib/frames.ts";
import { RecordOpener, RecordSealer, TAG_BYTES } from "../../lib/xor.ts";
import { median, randomBytes } from "./_sample.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
/** Record sizes compared; 16 KiB is a TLS-sized record, 256 KiB a large file chunk. */
const RECORD_SIZES = [16 * KIB, 64 * KIB, 256 * KIB];
/** Each timed cell stops after this long or {@linkcode CELL_BYTES}, whichever comes first. */
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

/** 12-byte nonce = 4 zero bytes || 64-bit big-endian counter, as the record layer uses. */
function counterNonce(counter: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  return nonce;
}

const CONTENDERS: Contender[] = [
  {
    name: "ssp RecordSealer/Opener (node:crypto chacha20-poly1305)",
    channel() {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const sealer = new RecordSealer(key);
      const opener = new RecordOpener(key);
      return Promise.resolve({
        seal: (plaintext) => sealer.seal(HEADER, plaintext),
        open: (sealed) => opener.open(HEADER, sealed),
      });
    },
  },
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
  {
    name: "node:crypto aes-256-gcm",
    channel() {
      const key = crypto.getRandomValues(new Uint8Array(32));
      let sent = 0;
      let received = 0;
      return Promise.resolve({
        seal(plaintext) {
          const cipher = createCipheriv("aes-256-gcm", key, counterNonce(sent++));
          cipher.setAAD(HEADER);
          const body = cipher.update(plaintext);
          cipher.final();
          const out = new Uint8Array(body.length + 16);
          out.set(body);
          out.set(cipher.getAuthTag(), body.length);
          return out;
        },
        open(sealed) {
          const decipher = createDecipheriv("aes-256-gcm", key, counterNonce(received++));
          decipher.setAAD(HEADER);
          decipher.setAuthTag(sealed.subarray(sealed.length - 16));
          const body = decipher.update(sealed.subarray(0, sealed.length - 16));
          decipher.final();
          return new Uint8Array(body);
        },
      });
    },
  },
];

/** Seals `size`-byte records for up to CELL_MS / CELL_BYTES; returns MiB/s. */
async function sealRate(contender: Contender, size: number): Promise<number> {
  const channel = await contender.channel();
  const plaintext = randomBytes(size);
  let bytes = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < CELL_MS && bytes < CELL_BYTES) {
    const sealed = channel.seal(plaintext);
    if (sealed instanceof Promise) await sealed;
    bytes += size;
    elapsed = performance.now() - start;
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
    for (let i = 0; i < batchRecords; i++) batch.push(await channel.seal(plaintext));
    const start = performance.now();
    for (const sealed of batch) {
      const opened = channel.open(sealed);
      if (opened instanceof Promise) await opened;
      bytes += size;
      if (bytes >= CELL_BYTES) break;
    }
    elapsed += performance.now() - start;
  }
  return bytes / MIB / (elapsed / 1000);
}

async function medianOf(measure: () => Promise<number>): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await measure());
  return median(runs);
}

const FILE_ID = "0123456789abcdef0123456789abcdef";

/** The sender's work for chunk `index`, returning the frame's bytes as one array or as pieces. */
const CHUNK_PATHS: {
  name: string;
  frame(sealer: RecordSealer, key: Uint8Array, index: number, chunk: Uint8Array): number;
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
    name: "in pieces: sealChunkParts, encodeMessageWithBytes, RecordSealer.sealParts",
    frame(sealer, key, index, chunk) {
      const pieces = encodeMessageWithBytes(
        { t: "file_chunk", fileId: FILE_ID, index },
        "data",
        sealChunkParts(key, index, false, chunk),
      );
      const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
      const sealed = sealer.sealParts(encodeFrameHeader(length + TAG_BYTES), pieces);
      return sealed.reduce((sum, piece) => sum + piece.length, 0);
    },
  },
];

/** µs per 256 KiB chunk for one sender path. */
function chunkPathMicros(path: (typeof CHUNK_PATHS)[number]): number {
  const sealer = new RecordSealer(randomBytes(32));
  const key = randomBytes(32);
  const chunk = randomBytes(256 * KIB);
  const started = performance.now();
  let index = 0;
  while (performance.now() - started < CELL_MS) path.frame(sealer, key, index++, chunk);
  return (performance.now() - started) * 1000 / index;
}

/**
 * Measures every contender at every record size and returns the results as a
 * Markdown section (medians of three runs, MiB/s of plaintext).
 */
export async function run(): Promise<string> {
  const rows: string[] = [];
  for (const contender of CONTENDERS) {
    const cells: string[] = [];
    for (const size of RECORD_SIZES) {
      const seal = await medianOf(() => sealRate(contender, size));
      const open = await medianOf(() => openRate(contender, size));
      cells.push(`${seal.toFixed(0)} / ${open.toFixed(0)}`);
    }
    rows.push(`| ${contender.name} | ${cells.join(" | ")} |`);
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
    `Seal / open, MiB/s of plaintext, median of ${REPEATS} runs of ~${CELL_MS / 1000} s or ` +
    `${CELL_BYTES / MIB} MiB each. Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
    `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs.`,
    "",
    `| cipher | ${sizes.join(" | ")} |`,
    `| --- | ${sizes.map(() => "---:").join(" | ")} |`,
    ...rows,
    "",
    "### A 256 KiB file chunk leaving the sender",
    "",
    "End-to-end seal, message encoding and record seal of one `file_chunk`, median of " +
    `${REPEATS} runs of ~${CELL_MS / 1000} s.`,
    "",
    "| path | µs per chunk | MiB/s |",
    "| --- | ---: | ---: |",
    ...pathRows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  console.log(await run());
}
