/**
 * The worker thread behind `ChunkWorker` (chunk_jobs.ts): runs each job it is
 * sent, in order, until one fails, and posts the answer back, transferring sealed chunks. Its
 * files close when the worker is terminated.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type ChunkJob, replyTo, runChunkJob, type SentError } from "./chunk_jobs.ts";

const files = new Map<string, Deno.FsFile>();
/** After a job fails, later ones fail too: a fetched file never gets chunks past a gap. */
let failed: SentError | undefined;

self.onmessage = ({ data: { id, job } }: MessageEvent<{ id: number; job: ChunkJob }>) => {
  const reply = failed ? { id, error: failed } : replyTo(id, () => runChunkJob(job, files));
  if ("error" in reply) failed = reply.error;
  self.postMessage(reply, "sealed" in reply ? [reply.sealed.buffer as ArrayBuffer] : []);
};
