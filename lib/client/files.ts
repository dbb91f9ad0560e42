/**
 * Sending and fetching end-to-end encrypted files. The sender encrypts the
 * file in chunks under a fresh key (STREAM, lib/e2e/stream.ts) and streams
 * them; the file's name, size and key travel only inside the signed envelope
 * that announces it. Both directions resume: an upload continues from the
 * last chunk the server committed, a download from the chunks already
 * verified on disk. A download is written to a temporary file and moved to
 * its name only after every chunk verified.
 *
 * @module
 */
import { basename, extname, join } from "node:path";
import type { FileContent } from "../e2e/mod.ts";
import {
  CHUNK_OVERHEAD,
  chunkCount,
  cipherSize,
  DEFAULT_CHUNK_BYTES,
  openChunkInPlace,
  sealChunkInPlace,
} from "../e2e/mod.ts";
import { EnvelopeError, SspError } from "../errors.ts";
import { type FileChunk, type FileData, type FileFailed, newMessageId } from "../protocol/mod.ts";
import type { Session } from "./session.ts";

/** A download fails (resumable) after this long without a chunk. */
export const STALL_MS = 120_000;

/** A download flushes its part file to disk in the background every this many chunks. */
export const SYNC_EVERY_CHUNKS = 16;

/** Reports bytes done out of a total. */
export type OnProgress = (done: number, total: number) => void;

/** A file as the user sees it. */
export interface FileEntry {
  fileId: string;
  name: string;
  size: number;
  from: string;
  to: string[];
  /** False if the sender's key changed and was not accepted. */
  verified: boolean;
  /** Whether the upload has finished. */
  complete: boolean;
  /** Milliseconds since the epoch. */
  createdAt: number;
  content: FileContent;
}

/**
 * Uploads `path` to `to` (one upload for all recipients); resumes an interrupted one.
 * `onProgress` runs after each chunk is handed to the connection; if it returns a
 * promise, the upload waits for it before the next chunk.
 */
export async function sendFile(
  session: Session,
  path: string,
  to: string[],
  onProgress: (done: number, total: number) => void | Promise<void> = () => {},
): Promise<{ fileId: string; name: string; size: number; resumedAt: number }> {
  const info = await Deno.stat(path);
  if (!info.isFile) throw new SspError("not_a_file", `${path} is not a regular file`);
  const size = info.size;
  const name = basename(path);
  const chunkBytes = DEFAULT_CHUNK_BYTES;
  const chunks = chunkCount(size, chunkBytes);
  const recipients = [...new Set(to)].sort();
  // Same file, same recipients, unchanged since last try: resume that upload.
  const resumeKey = `${await Deno.realPath(path)}|${size}|${
    info.mtime?.getTime() ?? 0
  }|${recipients}`;
  const upload = session.state.upload(resumeKey) ?? {
    fileId: newMessageId(),
    messageId: newMessageId(),
    key: crypto.getRandomValues(new Uint8Array(32)),
  };
  session.state.saveUpload(resumeKey, upload);
  const content: FileContent = {
    kind: "file",
    fileId: upload.fileId,
    name,
    size,
    chunkBytes,
    key: upload.key,
  };
  const { envelope } = await session.messenger.seal(recipients, content, upload.messageId);
  const ready = await session.rpc.request({
    t: "file_begin",
    fileId: upload.fileId,
    cipherSize: cipherSize(size, chunkBytes),
    chunkBytes: chunkBytes + CHUNK_OVERHEAD,
    chunks,
    readers: recipients,
    messageId: upload.messageId,
    envelope,
  });
  let failure: FileFailed | null = null;
  const unsubscribe = session.rpc.onFile(upload.fileId, (message) => {
    if (message.t === "file_failed") failure = message;
  });
  try {
    using file = await Deno.open(path, { read: true });
    await file.seek(ready.committed * chunkBytes, Deno.SeekMode.Start);
    const buffer = new Uint8Array(chunkBytes);
    const tag = new Uint8Array(CHUNK_OVERHEAD);
    // One chunk is written to the socket while the next is read and sealed; waiting for the
    // write before going further keeps memory flat and lets the network set the pace. Each
    // chunk is sealed in `buffer` and then into its record's frame before notifyWithBytes()
    // returns, so the next chunk can be read into the same buffer at once.
    let writing: Promise<void> = Promise.resolve();
    for (let index = ready.committed; index < chunks; index++) {
      if (failure) throw transferFailed(failure);
      const length = Math.min(chunkBytes, size - index * chunkBytes);
      const chunk = buffer.subarray(0, length);
      readFully(file, chunk, path);
      sealChunkInPlace(upload.key, index, index === chunks - 1, chunk, tag);
      await writing;
      writing = session.rpc.notifyWithBytes<FileChunk, "data">(
        { t: "file_chunk", fileId: upload.fileId, index },
        "data",
        [chunk, tag],
      );
      await onProgress(Math.min(size, index * chunkBytes + length), size);
    }
    await writing;
    if (chunks === ready.committed) await onProgress(size, size);
    await session.rpc.request({ t: "file_end", fileId: upload.fileId });
    if (failure) throw transferFailed(failure);
  } finally {
    unsubscribe();
  }
  session.state.forgetUpload(resumeKey);
  return { fileId: upload.fileId, name, size, resumedAt: ready.committed * chunkBytes };
}

/** Lets more people fetch a file I uploaded: a new announcement, no second upload. */
export async function shareFile(session: Session, id: string, to: string[]): Promise<FileEntry> {
  const entry = await findFile(session, id);
  if (entry.from !== session.account.phone) {
    throw new SspError("not_owner", "only the sender of a file can share it further", {
      hint: "fetch it and send it as a new file instead",
    });
  }
  const readers = [...new Set(to)].sort();
  const messageId = newMessageId();
  const { envelope } = await session.messenger.seal(readers, entry.content, messageId);
  await session.rpc.request({
    t: "file_share",
    fileId: entry.fileId,
    readers,
    messageId,
    envelope,
  });
  return entry;
}

/**
 * Deletes a file I uploaded from the server (chunks and all), freeing its
 * space in my quota; its recipients can no longer fetch it.
 */
export async function deleteFile(session: Session, id: string): Promise<FileEntry> {
  const entry = await findFile(session, id);
  if (entry.from !== session.account.phone) {
    throw new SspError("not_owner", "only the sender of a file can delete it", {
      hint: "received files stay on the server until their sender deletes them",
    });
  }
  await session.rpc.request({ t: "file_delete", fileId: entry.fileId });
  return entry;
}

/** The files I sent or may fetch, newest first, each from its verified announcement. */
export async function listFiles(session: Session): Promise<FileEntry[]> {
  const reply = await session.rpc.request({ t: "file_list" });
  const entries: FileEntry[] = [];
  for (const file of reply.files) {
    for (const envelope of file.envelopes) {
      const opened = await session.messenger.open(envelope);
      if (!("message" in opened) || opened.message.content.kind !== "file") continue;
      const { message } = opened;
      const content = message.content as FileContent;
      if (content.fileId !== file.fileId || message.from !== file.owner) continue;
      entries.push({
        fileId: file.fileId,
        name: content.name,
        size: content.size,
        from: message.from,
        to: message.to,
        verified: message.verified,
        complete: file.committed === file.chunks,
        createdAt: file.createdAt,
        content,
      });
      break;
    }
  }
  return entries;
}

/**
 * Downloads file `id` (or a unique prefix of it, at least 6 hex digits) into
 * `outDir`; resumes from a partial download there. Resolves to the path.
 */
export async function getFile(
  session: Session,
  id: string,
  outDir: string,
  onProgress: OnProgress = () => {},
): Promise<{ path: string; entry: FileEntry; resumedAt: number }> {
  const entry = await findFile(session, id);
  const { content } = entry;
  const chunks = chunkCount(content.size, content.chunkBytes);
  await Deno.mkdir(outDir, { recursive: true });
  const partPath = join(outDir, `.${content.name}.${entry.fileId.slice(0, 8)}.ssp-part`);
  // Whole verified chunks already on disk are kept; anything after them is dropped.
  let have = 0;
  try {
    have = Math.min(Math.floor((await Deno.stat(partPath)).size / content.chunkBytes), chunks - 1);
  } catch { /* no partial download */ }
  const part = await Deno.open(partPath, { create: true, write: true, read: true, mode: 0o600 });
  let ok = false;
  /** Set when what arrived must not be kept for a later resume. */
  let discard = false;
  try {
    await part.truncate(have * content.chunkBytes);
    await part.seek(have * content.chunkBytes, Deno.SeekMode.Start);
    onProgress(have * content.chunkBytes, content.size);
    const done = Promise.withResolvers<void>();
    let next = have;
    let syncing: Promise<void> | null = null;
    let syncFailed: unknown = null;
    // An upload that stops progressing (sender gone) must not hold a download forever.
    let stall: ReturnType<typeof setTimeout> | undefined;
    const watchdog = () => {
      clearTimeout(stall);
      stall = setTimeout(() =>
        done.reject(
          new SspError(
            "upload_stalled",
            `no data for ${STALL_MS / 1000} s: the sender's upload of ${content.name} has stopped`,
            { hint: "try again later: what arrived so far is kept and the download resumes" },
          ),
        ), STALL_MS);
    };
    watchdog();
    const unsubscribe = session.rpc.onFile(entry.fileId, (message: FileData | FileFailed) => {
      try {
        if (message.t === "file_failed") throw transferFailed(message);
        if (message.index !== next) {
          throw new EnvelopeError(
            "chunk_out_of_order",
            `expected chunk ${next}, got ${message.index}`,
          );
        }
        // The chunk arrived in a record of its own, so it is opened where it lies.
        const plain = openChunkInPlace(content.key, next, next === chunks - 1, message.data);
        let written = 0;
        while (written < plain.length) written += part.writeSync(plain.subarray(written));
        next++;
        // Flush to disk while later chunks arrive, so the final sync has little left to do.
        if (next % SYNC_EVERY_CHUNKS === 0 && !syncing) {
          syncing = part.syncData().then(
            () => void (syncing = null),
            (error) => void (syncFailed ??= error), // reported once per file: keep it
          );
        }
        watchdog();
        onProgress(Math.min(content.size, next * content.chunkBytes), content.size);
        if (next === chunks) done.resolve();
      } catch (error) {
        discard = mustDiscard(error);
        done.reject(error);
      }
    });
    try {
      const info = await session.rpc.request({ t: "file_get", fileId: entry.fileId, from: have });
      const expected = cipherSize(content.size, content.chunkBytes);
      if (info.chunks !== chunks || info.cipherSize !== expected) {
        throw new EnvelopeError(
          "file_mismatch",
          `the server's copy of ${content.name} has ${info.chunks} chunks (${info.cipherSize} bytes); the sender announced ${chunks} (${expected} bytes)`,
        );
      }
      if (have >= chunks) done.resolve();
      await Promise.race([done.promise, session.rpc.closed.then((e) => Promise.reject(e))]);
    } finally {
      clearTimeout(stall);
      unsubscribe();
    }
    await syncing;
    if (syncFailed) throw syncFailed;
    await part.syncData();
    ok = true;
  } catch (error) {
    discard ||= mustDiscard(error);
    throw error;
  } finally {
    part.close();
    // After a mere interruption the verified prefix stays, for the next attempt to resume from.
    if (!ok && discard) await Deno.remove(partPath).catch(() => {});
  }
  const path = await freeName(join(outDir, content.name));
  await Deno.rename(partPath, path);
  return { path, entry, resumedAt: have * content.chunkBytes };
}

async function findFile(session: Session, id: string): Promise<FileEntry> {
  const wanted = id.toLowerCase();
  if (!/^[0-9a-f]{6,32}$/.test(wanted)) {
    throw new TypeError(`"${id}" is not a file id (6 to 32 hex digits; see \`ssp-client files\`)`);
  }
  const matches = (await listFiles(session)).filter((f) => f.fileId.startsWith(wanted));
  if (matches.length === 0) {
    throw new SspError("no_such_file", `no file ${id} that you may fetch`, {
      hint: "list yours with `ssp-client files`",
    });
  }
  if (matches.length > 1) {
    throw new SspError("ambiguous_file", `${id} matches ${matches.length} files; give more digits`);
  }
  return matches[0]!;
}

async function freeName(path: string): Promise<string> {
  const ext = extname(path);
  const stem = path.slice(0, path.length - ext.length);
  for (let n = 0;; n++) {
    const candidate = n === 0 ? path : `${stem} (${n})${ext}`;
    try {
      await Deno.lstat(candidate);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return candidate;
      throw error;
    }
  }
}

/** Synchronous: a page-cache read is faster than an async call's round trip (see disk_files.ts). */
function readFully(file: Deno.FsFile, into: Uint8Array, path: string): void {
  let read = 0;
  while (read < into.length) {
    const n = file.readSync(into.subarray(read));
    if (n === null) throw new SspError("file_changed", `${path} got shorter while sending it`);
    read += n;
  }
}

/**
 * Whether a failed download's part file must go: data that failed verification
 * is not what the sender sent, and a file deleted from the server cannot be
 * resumed.
 */
function mustDiscard(error: unknown): boolean {
  return error instanceof EnvelopeError ||
    (error instanceof SspError && error.code === "no_such_file");
}

function transferFailed(message: FileFailed): SspError {
  return new SspError(
    message.code,
    `transfer of file ${message.fileId} failed: ${message.message}`,
  );
}

/** A short display form of a file id. */
export function shortId(fileId: string): string {
  return fileId.slice(0, 8);
}
