/**
 * File chunk throughput: sealChunk() and openChunk() from lib/e2e/stream.ts
 * (ChaCha20-Poly1305 from node:crypto, age's STREAM nonces) at 64 KiB,
 * 256 KiB and 1 MiB chunks, ~256 MiB of plaintext per cell.
 *
 * Run alone with `deno run scripts/bench/chunks.ts` (it needs no permissions).
 *
 * @module
 */
import { openChunk, sealChunk } from "../../lib/e2e/mod.ts";
import { median, randomBytes } from "./_sample.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
/** Chunk sizes compared: age's 64 KiB, ssp's default 256 KiB, and the 1 MiB maximum. */
const CHUNK_SIZES = [64 * KIB, 256 * KIB, 1 * MIB];
/** Plaintext sealed and opened per cell. */
const CELL_BYTES = 256 * MIB;
/** Chunks are sealed, then opened, in batches of this many bytes, to bound memory. */
const BATCH_BYTES = 32 * MIB;
const REPEATS = 3;

interface Rates {
  seal: number;
  open: number;
  /** Plaintext MiB per second of seal and open together: what one side of a round trip costs. */
  both: number;
}

/** Seals then opens CELL_BYTES of `size`-byte chunks; returns MiB/s of plaintext. */
function measure(size: number): Rates {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const plaintext = randomBytes(size);
  const chunks = CELL_BYTES / size;
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / size));
  let sealMs = 0;
  let openMs = 0;
  for (let first = 0; first < chunks; first += perBatch) {
    const last = Math.min(chunks, first + perBatch);
    const sealed: Uint8Array[] = [];
    let start = performance.now();
    for (let i = first; i < last; i++) sealed.push(sealChunk(key, i, i === chunks - 1, plaintext));
    sealMs += performance.now() - start;
    start = performance.now();
    for (let i = first; i < last; i++) openChunk(key, i, i === chunks - 1, sealed[i - first]!);
    openMs += performance.now() - start;
  }
  const mib = CELL_BYTES / MIB;
  return {
    seal: mib / (sealMs / 1000),
    open: mib / (openMs / 1000),
    both: mib / ((sealMs + openMs) / 1000),
  };
}

/**
 * Measures every chunk size and returns the results as a Markdown section
 * (medians of three runs, MiB/s of plaintext).
 */
export function run(): Promise<string> {
  measure(64 * KIB); // warm-up: JIT and node:crypto's first cipher setup
  const rows: string[] = [];
  for (const size of CHUNK_SIZES) {
    const runs = Array.from({ length: REPEATS }, () => measure(size));
    const cell = (pick: (r: Rates) => number) => median(runs.map(pick)).toFixed(0);
    const label = size >= MIB ? `${size / MIB} MiB` : `${size / KIB} KiB`;
    rows.push(
      `| ${label} | ${cell((r) => r.seal)} | ${cell((r) => r.open)} | ${cell((r) => r.both)} |`,
    );
  }
  return Promise.resolve(
    [
      "## File chunk throughput",
      "",
      `sealChunk()/openChunk(), MiB/s of plaintext, median of ${REPEATS} runs of ` +
      `${CELL_BYTES / MIB} MiB each; "seal + open" is the plaintext rate of doing both. ` +
      `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.os}/${Deno.build.arch}, ` +
      `${navigator.hardwareConcurrency} CPUs.`,
      "",
      "| chunk | seal | open | seal + open |",
      "| --- | ---: | ---: | ---: |",
      ...rows,
      "",
    ].join("\n"),
  );
}

if (import.meta.main) {
  console.log(await run());
}
