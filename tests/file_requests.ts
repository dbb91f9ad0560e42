/**
 * Raw `file_begin` requests for tests that race them: sealed ahead of
 * sending, so that parallel requests leave together.
 *
 * @module
 */
import { CHUNK_OVERHEAD, chunkCount, cipherSize, DEFAULT_CHUNK_BYTES } from "../lib/e2e/mod.ts";
import { SspError } from "../lib/errors.ts";
import { newMessageId } from "../lib/protocol/mod.ts";
import type { TestUser } from "./users.ts";

/** The largest plaintext whose ciphertext is at most `bytes`. */
export function plainSizeFor(bytes: number): number {
  const chunk = DEFAULT_CHUNK_BYTES + CHUNK_OVERHEAD;
  return bytes - Math.ceil(bytes / chunk) * CHUNK_OVERHEAD;
}

/** A `file_begin` for `fileId` (a file of `size` plaintext bytes, to `reader`), sealed ahead of sending. */
export async function beginRequest(user: TestUser, fileId: string, size: number, reader: string) {
  const messageId = newMessageId();
  const { envelope } = await user.session.messenger.seal([reader], {
    kind: "file",
    fileId,
    name: "race.bin",
    size,
    chunkBytes: DEFAULT_CHUNK_BYTES,
    key: crypto.getRandomValues(new Uint8Array(32)),
  }, messageId);
  return {
    t: "file_begin" as const,
    fileId,
    cipherSize: cipherSize(size, DEFAULT_CHUNK_BYTES),
    chunkBytes: DEFAULT_CHUNK_BYTES + CHUNK_OVERHEAD,
    chunks: chunkCount(size, DEFAULT_CHUNK_BYTES),
    readers: [reader],
    messageId,
    envelope,
  };
}

/** A request made by {@linkcode beginRequest}. */
export type BeginRequest = Awaited<ReturnType<typeof beginRequest>>;

/** Sends the request; "ready" or the error code. */
export async function outcome(user: TestUser, request: BeginRequest): Promise<string> {
  try {
    await user.session.rpc.request(request);
    return "ready";
  } catch (error) {
    if (error instanceof SspError) return error.code;
    throw error;
  }
}
