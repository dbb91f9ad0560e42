/**
 * The end-to-end half of a file transfer, run on a second thread: reading and
 * sealing the chunks of a file being sent, opening and writing the chunks of a
 * file being fetched. The connection's thread keeps the channel, the codec and
 * the socket, so each process uses two cores instead of one (docs/files.md,
 * "What limits throughput").
 *
 * `runChunkJob` does the work and is what the worker (chunk_worker.ts) calls;
 * `ChunkWorker` is the connection thread's handle on that worker. Buffers move
 * between the threads by transfer, never by copy.
 *
 * @module
 */
import { openChunk, sealChunk } from "../e2e/stream.ts";
import { EnvelopeError, SspError } from "../errors.ts";

/** Chunks handed to the worker and not yet finished, per transfer. Bounds memory. */
export const CHUNK_JOBS_IN_FLIGHT = 4;

/** Read `length` bytes at `offset` of the file at `path` and seal them as chunk `index`. */
export interface SealJob {
  op: "seal";
  path: string;
  offset: number;
  length: number;
  key: Uint8Array;
  index: number;
  last: boolean;
}

/** Open sealed chunk `index` and write its plaintext at `offset` of the file at `path`. */
export interface OpenJob {
  op: "open";
  path: string;
  offset: number;
  data: Uint8Array;
  key: Uint8Array;
  index: number;
  last: boolean;
}

/** A job and the answer the worker gives for it. */
export type ChunkJob = SealJob | OpenJob;

/** How a job's error crosses the thread boundary (structured clone drops classes). */
export interface SentError {
  name: string;
  code: string;
  message: string;
  hint?: string;
}

/** What the worker posts back for job `id`. */
export type ChunkReply =
  | { id: number; sealed: Uint8Array }
  | { id: number; written: number }
  | { id: number; error: SentError };

/**
 * Runs one job. Files stay open in `files` (by path and mode) between jobs of
 * one transfer, until the worker ends.
 */
export function runChunkJob(job: ChunkJob, files: Map<string, Deno.FsFile>): Uint8Array | number {
  const file = openOnce(files, job.path, job.op === "seal" ? "read" : "write");
  file.seekSync(job.offset, Deno.SeekMode.Start);
  if (job.op === "seal") {
    const plain = new Uint8Array(job.length);
    let read = 0;
    while (read < plain.length) {
      const n = file.readSync(plain.subarray(read));
      if (n === null) {
        throw new SspError("file_changed", `${job.path} got shorter while sending it`, {
          hint: "send it again once it no longer changes",
        });
      }
      read += n;
    }
    return sealChunk(job.key, job.index, job.last, plain);
  }
  const plain = openChunk(job.key, job.index, job.last, job.data);
  let written = 0;
  while (written < plain.length) written += file.writeSync(plain.subarray(written));
  return written;
}

function openOnce(
  files: Map<string, Deno.FsFile>,
  path: string,
  mode: "read" | "write",
): Deno.FsFile {
  const key = `${mode} ${path}`;
  let file = files.get(key);
  if (!file) {
    file = Deno.openSync(path, mode === "read" ? { read: true } : { write: true });
    files.set(key, file);
  }
  return file;
}

/** The answer to job `id`, as the worker posts it. */
export function replyTo(id: number, run: () => Uint8Array | number): ChunkReply {
  try {
    const result = run();
    return typeof result === "number" ? { id, written: result } : { id, sealed: result };
  } catch (error) {
    const sent: SentError = {
      name: error instanceof Error ? error.name : "Error",
      code: error instanceof SspError ? error.code : "chunk_job_failed",
      message: error instanceof Error ? error.message : String(error),
    };
    if (error instanceof SspError && error.hint !== undefined) sent.hint = error.hint;
    return { id, error: sent };
  }
}

/** Turns a worker's error back into the class the caller checks for. */
function receivedError({ name, code, message, hint }: SentError): Error {
  const options = hint === undefined ? {} : { hint };
  if (name === "EnvelopeError") return new EnvelopeError(code, message, options);
  if (name === "RangeError") return new RangeError(message);
  return new SspError(code, message, options);
}

/**
 * A worker thread that seals or opens one transfer's chunks, in the order
 * they are given. Terminate it with `close()` when the transfer ends.
 */
export class ChunkWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, PromiseWithResolvers<ChunkReply>>();
  #nextId = 1;
  #failed: Error | null = null;

  constructor() {
    // Under `deno task bundle` this module is part of ssp-client.js and the worker is the
    // separate ssp-chunk-worker.js beside it (scripts/bundle.ts).
    const url = import.meta.url.endsWith(".ts")
      ? new URL("./chunk_worker.ts", import.meta.url)
      : new URL("./ssp-chunk-worker.js", import.meta.url);
    this.#worker = new Worker(url.href, { type: "module" });
    this.#worker.onmessage = ({ data }: MessageEvent<ChunkReply>) => {
      const settle = this.#pending.get(data.id);
      this.#pending.delete(data.id);
      settle?.resolve(data);
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(
        new SspError("chunk_worker_failed", `file encryption thread failed: ${event.message}`),
      );
    };
  }

  /** Reads and seals a chunk of a file being sent. */
  async seal(job: SealJob): Promise<Uint8Array> {
    const reply = await this.#run(job, []);
    return (reply as { sealed: Uint8Array }).sealed;
  }

  /**
   * Opens a chunk and writes it into the file being fetched. `job.data`'s
   * buffer is transferred: the caller must not use it afterwards.
   */
  async open(job: OpenJob): Promise<number> {
    const reply = await this.#run(job, [job.data.buffer as ArrayBuffer]);
    return (reply as { written: number }).written;
  }

  /** Stops the thread; jobs still pending fail. */
  close(): void {
    this.#worker.terminate();
    this.#fail(new SspError("chunk_worker_closed", "the file transfer ended"));
  }

  async #run(job: ChunkJob, transfer: Transferable[]): Promise<ChunkReply> {
    if (this.#failed) throw this.#failed;
    const id = this.#nextId++;
    const settle = Promise.withResolvers<ChunkReply>();
    this.#pending.set(id, settle);
    this.#worker.postMessage({ id, job }, transfer);
    const reply = await settle.promise;
    if ("error" in reply) throw receivedError(reply.error);
    return reply;
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    for (const settle of this.#pending.values()) settle.reject(error);
    this.#pending.clear();
  }
}
