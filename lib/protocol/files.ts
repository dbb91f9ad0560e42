/**
 * File transfer messages (docs/protocol.md §8). Files are encrypted by the
 * sender in chunks (STREAM, lib/e2e/stream.ts); the server stores and relays
 * opaque chunks. The file's name, size and key travel only inside the
 * end-to-end envelope that announces it.
 *
 * @module
 */
import { z } from "zod";
import { bytes, uint } from "../wire/mod.ts";
import { MAX_RECIPIENTS, messageId, phone, requestId } from "./common.ts";
import { MAX_ENVELOPE_BYTES_CEILING } from "./messaging.ts";
import { MAX_CODE_CHARS, MAX_MESSAGE_CHARS } from "../handshake/mod.ts";

/** Largest ciphertext chunk on the wire: 512 KiB of plaintext plus its tag. */
export const MAX_FILE_CHUNK_BYTES = 512 * 1024 + 16;

/** Most files one `files` reply lists. */
export const MAX_LISTED_FILES = 1000;

/** Most announcements listed per file in a `files` reply (the newest). */
export const MAX_LISTED_ANNOUNCEMENTS = 64;

/** Client → server: starts (or resumes) an upload; announces it to `readers` with `envelope`. */
export const FileBegin = z.object({
  t: z.literal("file_begin"),
  id: requestId,
  fileId: messageId,
  cipherSize: uint(),
  chunkBytes: uint(MAX_FILE_CHUNK_BYTES).refine((n) => n >= 1024, "expected at least 1024"),
  chunks: uint(),
  readers: z.array(phone).min(1).max(MAX_RECIPIENTS),
  /** Id of the announcing envelope (idempotency key of that message). */
  messageId,
  envelope: bytes(1, MAX_ENVELOPE_BYTES_CEILING),
});
/** Client → server: starts or resumes an upload. */
export type FileBegin = z.infer<typeof FileBegin>;

/** Server → client: send chunks from `committed` on. */
export const FileReady = z.object({
  t: z.literal("file_ready"),
  id: requestId,
  fileId: messageId,
  committed: uint(),
});
/** Server → client: upload accepted. */
export type FileReady = z.infer<typeof FileReady>;

/** Client → server: one chunk, in order (no reply; a failure is reported by `file_failed`). */
export const FileChunk = z.object({
  t: z.literal("file_chunk"),
  fileId: messageId,
  index: uint(),
  data: bytes(1, MAX_FILE_CHUNK_BYTES),
});
/** Client → server: one chunk. */
export type FileChunk = z.infer<typeof FileChunk>;

/** Client → server: all chunks sent; reply once every chunk is durably stored. */
export const FileEnd = z.object({ t: z.literal("file_end"), id: requestId, fileId: messageId });
/** Client → server: upload finished. */
export type FileEnd = z.infer<typeof FileEnd>;

/** Server → client: every chunk of the file is durably stored. */
export const FileDone = z.object({ t: z.literal("file_done"), id: requestId, fileId: messageId });
/** Server → client: upload complete. */
export type FileDone = z.infer<typeof FileDone>;

/** Server → client (push): an upload or download of `fileId` failed and stopped. */
export const FileFailed = z.object({
  t: z.literal("file_failed"),
  fileId: messageId,
  code: z.string().max(MAX_CODE_CHARS),
  message: z.string().max(MAX_MESSAGE_CHARS),
});
/** Server → client: a transfer failed. */
export type FileFailed = z.infer<typeof FileFailed>;

/** Client → server: lets more people download an uploaded file (no second upload). */
export const FileShare = z.object({
  t: z.literal("file_share"),
  id: requestId,
  fileId: messageId,
  readers: z.array(phone).min(1).max(MAX_RECIPIENTS),
  messageId,
  envelope: bytes(1, MAX_ENVELOPE_BYTES_CEILING),
});
/** Client → server: shares a file. */
export type FileShare = z.infer<typeof FileShare>;

/**
 * Client → server: deletes a file this account uploaded, chunks and all; its
 * bytes stop counting toward the quota. Answered `ok`.
 */
export const FileDelete = z.object({
  t: z.literal("file_delete"),
  id: requestId,
  fileId: messageId,
});
/** Client → server: deletes a file. */
export type FileDelete = z.infer<typeof FileDelete>;

/** Client → server: download chunks from `from` on (they follow as `file_data` pushes). */
export const FileGet = z.object({
  t: z.literal("file_get"),
  id: requestId,
  fileId: messageId,
  from: uint(),
});
/** Client → server: starts a download. */
export type FileGet = z.infer<typeof FileGet>;

/** Server → client: the file's layout; `file_data` pushes follow. */
export const FileInfo = z.object({
  t: z.literal("file_info"),
  id: requestId,
  fileId: messageId,
  cipherSize: uint(),
  chunkBytes: uint(MAX_FILE_CHUNK_BYTES),
  chunks: uint(),
  committed: uint(),
});
/** Server → client: file layout. */
export type FileInfo = z.infer<typeof FileInfo>;

/** Server → client (push): one chunk of a download, in order. */
export const FileData = z.object({
  t: z.literal("file_data"),
  fileId: messageId,
  index: uint(),
  data: bytes(1, MAX_FILE_CHUNK_BYTES),
});
/** Server → client: one chunk. */
export type FileData = z.infer<typeof FileData>;

/** Client → server: files I uploaded or may download. */
export const FileList = z.object({ t: z.literal("file_list"), id: requestId });
/** Client → server: lists files. */
export type FileList = z.infer<typeof FileList>;

/** Server → client: the files, each with the envelopes that announced it to me. */
export const FileListReply = z.object({
  t: z.literal("files"),
  id: requestId,
  files: z.array(z.object({
    fileId: messageId,
    owner: phone,
    cipherSize: uint(),
    chunks: uint(),
    committed: uint(),
    createdAt: uint(),
    envelopes: z.array(bytes(1, MAX_ENVELOPE_BYTES_CEILING)).max(MAX_LISTED_ANNOUNCEMENTS),
  })).max(MAX_LISTED_FILES),
});
/** Server → client: file list. */
export type FileListReply = z.infer<typeof FileListReply>;
