/**
 * One session's file transfers: uploads (chunks written in order, committed
 * in groups, watchers woken) and downloads (chunks streamed as soon as they
 * are committed, so a recipient can fetch while the sender still uploads).
 *
 * @module
 */
import type { SecureChannel } from "../channel/mod.ts";
import { AuthError, ProtocolError, SspError } from "../errors.ts";
import {
  type FileBegin,
  type FileChunk,
  type FileDelete,
  type FileEnd,
  type FileGet,
  type FileShare,
  MAX_LISTED_ANNOUNCEMENTS,
  MAX_LISTED_FILES,
  type ServerMessage,
} from "../protocol/mod.ts";
import { chunkLength, type FileRecord, type FileStore, mayRead } from "../store/files.ts";
import { checkEnvelope, type RelayContext, storeAndDeliver } from "./relay.ts";
import type { UploadClaim, UploadClaims } from "./upload_claims.ts";

/** Default largest file, in ciphertext bytes: 8 GiB. */
export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 ** 3;

/** Default storage quota per account (all its uploads): 32 GiB. */
export const DEFAULT_QUOTA_BYTES = 32 * 1024 ** 3;

/**
 * Default most downloads one connection may run at once. Each waits for
 * chunks and holds a chunk buffer, so an unbounded number would let one
 * connection grow the server by `file_get`s of an unfinished upload.
 */
export const DEFAULT_MAX_DOWNLOADS = 16;

/** Chunks written between commits (fsync), and so between wake-ups of live downloads. */
const COMMIT_EVERY_CHUNKS = 16;

/** Wakes downloads waiting for chunks of a file. */
export class FileWatchers {
  readonly #waiting = new Map<string, Set<() => void>>();
  readonly #recheckMs: number | null;

  /**
   * @param recheckMs When other servers share the file store, an upload may
   * commit on one of them, which notifies nobody here: then every wait also
   * ends after this long, and the download reads the committed count again.
   */
  constructor(recheckMs: number | null = null) {
    this.#recheckMs = recheckMs;
  }

  /** Resolves at the next commit of `fileId` (or when `signal` aborts, or after recheckMs). */
  next(fileId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiting.get(fileId);
      if (!set) this.#waiting.set(fileId, set = new Set());
      const timer = this.#recheckMs === null
        ? undefined
        : setTimeout(() => done(), this.#recheckMs);
      const done = () => {
        clearTimeout(timer);
        set!.delete(done);
        if (set!.size === 0 && this.#waiting.get(fileId) === set) this.#waiting.delete(fileId);
        signal.removeEventListener("abort", done);
        resolve();
      };
      set.add(done);
      signal.addEventListener("abort", done);
    });
  }

  /** Wakes everyone waiting on `fileId`. */
  notify(fileId: string): void {
    const set = this.#waiting.get(fileId);
    this.#waiting.delete(fileId);
    for (const wake of set ?? []) wake();
  }
}

/** What file transfers share across sessions. */
export interface FileContext extends RelayContext {
  files: FileStore;
  watchers: FileWatchers;
  /** Uploads in progress (here and, with a shared store, on other servers): one writer per file. */
  uploadClaims: UploadClaims;
  maxFileBytes: number;
  quotaBytes: number;
  /** Most downloads (`file_get` streams) one connection may run at once. */
  maxDownloads: number;
}

interface Upload {
  file: FileRecord;
  /** This connection's claim on the file, held until the upload ends. */
  claim: UploadClaim;
  next: number;
  committed: number;
  /** A commit running in the background while later chunks are written. */
  syncing: Promise<void> | null;
  /** Why a background commit failed; the upload stops with it. */
  failed: unknown;
}

/** The session's channel, as file transfers use it. */
export type MessageChannel = Pick<SecureChannel, "sendMessage" | "sendMessageWithBytes">;

/** File transfers of one logged-in session. */
export class FileTransfers {
  readonly #context: FileContext;
  readonly #phone: string;
  readonly #channel: MessageChannel;
  readonly #uploads = new Map<string, Upload>();
  readonly #stop = new AbortController();
  /** Downloads running on this connection (counted from the request on). */
  #downloads = 0;

  constructor(
    context: FileContext,
    phone: string,
    channel: MessageChannel,
  ) {
    this.#context = context;
    this.#phone = phone;
    this.#channel = channel;
  }

  /** Starts or resumes an upload; announces the file to its readers. */
  async begin(request: FileBegin): Promise<ServerMessage> {
    const { files, maxFileBytes, uploadClaims, quotaBytes } = this.#context;
    if (request.cipherSize > maxFileBytes) {
      throw new SspError(
        "file_too_large",
        `file of ${request.cipherSize} bytes exceeds the server's limit of ${maxFileBytes}`,
      );
    }
    checkLayout(request);
    let resumed = this.#uploads.get(request.fileId);
    if (resumed && !resumed.claim.valid()) {
      // Its lease lapsed (another server may have the file now): claim it afresh.
      this.#finishUpload(request.fileId);
      resumed = undefined;
    }
    // Claimed before anything is stored: two connections never get past here with one id at once.
    const claim = resumed?.claim ?? await uploadClaims.claim(
      request.fileId,
      new SspError("upload_busy", "this file is being begun or uploaded on another connection", {
        retryAfterMs: 1000,
      }),
    );
    try {
      const announcement = await this.#announcement(request);
      // The store checks the id and the quota and creates the file in one atomic step, so
      // parallel begins can neither share a new id nor overrun the quota together.
      const result = await files.createFile({
        fileId: request.fileId,
        owner: this.#phone,
        cipherSize: request.cipherSize,
        chunkBytes: request.chunkBytes,
        chunks: request.chunks,
        readers: announcement.recipients,
        announcement: request.envelope,
      }, quotaBytes);
      if (result.status === "over_quota") {
        throw new SspError(
          "quota_exceeded",
          `storing ${request.cipherSize} more bytes would exceed your quota of ${quotaBytes} (${result.usedBytes} used)`,
          {
            hint: "delete files you no longer need, or ask the server operator for a larger quota",
          },
        );
      }
      const file = result.record;
      if (
        file.owner !== this.#phone || file.cipherSize !== request.cipherSize ||
        file.chunkBytes !== request.chunkBytes
      ) {
        throw new SspError("file_exists", "a different file with this id exists");
      }
      await storeAndDeliver(this.#context, announcement);
      this.#uploads.set(request.fileId, {
        file,
        claim,
        next: file.committed,
        committed: file.committed,
        syncing: null,
        failed: undefined,
      });
      return { t: "file_ready", id: request.id, fileId: request.fileId, committed: file.committed };
    } catch (error) {
      if (!resumed) claim.release();
      throw error;
    }
  }

  /** Writes one chunk; commits every few chunks. */
  async chunk(message: FileChunk): Promise<void> {
    const upload = this.#uploads.get(message.fileId);
    if (!upload) {
      throw new ProtocolError("no_upload", `no upload of ${message.fileId} on this connection`);
    }
    if (message.index !== upload.next) {
      throw new ProtocolError("bad_chunk", `expected chunk ${upload.next}, got ${message.index}`);
    }
    if (
      message.index >= upload.file.chunks ||
      message.data.length !== chunkLength(upload.file, message.index)
    ) {
      throw new ProtocolError("bad_chunk", `chunk ${message.index} has the wrong size`);
    }
    if (upload.failed !== undefined) throw upload.failed;
    await this.#context.files.writeChunk(message.fileId, message.index, message.data);
    upload.next++;
    // fsync in the background: chunks keep arriving and being written meanwhile.
    if (upload.next - upload.committed >= COMMIT_EVERY_CHUNKS && !upload.syncing) {
      upload.syncing = this.#commit(upload)
        .catch((error) => upload.failed = error)
        .finally(() => upload.syncing = null);
    }
  }

  /** Commits the rest; replies once the whole file is durable. */
  async end(request: FileEnd): Promise<ServerMessage> {
    const upload = this.#uploads.get(request.fileId);
    if (!upload) {
      throw new ProtocolError("no_upload", `no upload of ${request.fileId} on this connection`);
    }
    await this.#commit(upload);
    if (upload.committed !== upload.file.chunks) {
      throw new ProtocolError(
        "incomplete_upload",
        `${upload.committed} of ${upload.file.chunks} chunks received`,
      );
    }
    this.#finishUpload(request.fileId);
    return { t: "file_done", id: request.id, fileId: request.fileId };
  }

  /** Lets more people download a file this account uploaded. */
  async share(request: FileShare): Promise<ServerMessage> {
    const file = await this.#context.files.getFile(request.fileId);
    if (!file || file.owner !== this.#phone) throw noSuchFile(request.fileId);
    const announcement = await this.#announcement(request);
    await this.#context.files.share(request.fileId, announcement.recipients, request.envelope);
    await storeAndDeliver(this.#context, announcement);
    return { t: "ok", id: request.id };
  }

  /**
   * Deletes a file this account uploaded, chunks and all, so that its bytes
   * stop counting toward the quota. Downloads in progress end with
   * `file_failed` (`no_such_file`).
   */
  async delete(request: FileDelete): Promise<ServerMessage> {
    const { files, watchers, uploadClaims } = this.#context;
    const file = await files.getFile(request.fileId);
    if (!file || file.owner !== this.#phone) throw noSuchFile(request.fileId);
    // Held while deleting, so no upload of the file can begin meanwhile, here or elsewhere.
    const claim = await uploadClaims.claim(
      request.fileId,
      new SspError("upload_in_progress", "this file is still being uploaded", {
        hint: "delete it once the upload has finished or stopped",
        retryAfterMs: 1000,
      }),
    );
    try {
      await files.deleteFile(request.fileId);
    } finally {
      claim.release();
    }
    watchers.notify(request.fileId); // downloads waiting for more chunks find it gone
    return { t: "ok", id: request.id };
  }

  /** Replies with the layout, then streams chunks from `from` on in the background. */
  async get(request: FileGet): Promise<null> {
    const { maxDownloads } = this.#context;
    if (this.#downloads >= maxDownloads) {
      throw new SspError(
        "too_many_downloads",
        `${this.#downloads} downloads are running on this connection, the server's limit`,
        { hint: "wait until a download has received its last chunk, then ask again" },
      );
    }
    // Counted before the first await, so parallel requests cannot all pass the check.
    this.#downloads++;
    let streaming = false;
    try {
      const file = await this.#context.files.getFile(request.fileId);
      if (!file || !mayRead(file, this.#phone)) throw noSuchFile(request.fileId);
      if (request.from > file.chunks) {
        throw new ProtocolError("bad_request", `the file has ${file.chunks} chunks`);
      }
      await this.#channel.sendMessage({
        t: "file_info",
        id: request.id,
        fileId: file.fileId,
        cipherSize: file.cipherSize,
        chunkBytes: file.chunkBytes,
        chunks: file.chunks,
        committed: file.committed,
      });
      // After the reply: `file_data` never precedes `file_info`.
      this.#stream(file, request.from).finally(() => this.#downloads--);
      streaming = true;
    } finally {
      if (!streaming) this.#downloads--;
    }
    return null;
  }

  /** Drops an upload after a bad chunk; it can be begun (and resumed) again. */
  abort(fileId: string): void {
    if (this.#uploads.has(fileId)) this.#finishUpload(fileId);
  }

  /** Files this account uploaded or may download, with their announcements. */
  async list(id: number): Promise<ServerMessage> {
    const files = await this.#context.files.listFiles(this.#phone);
    return {
      t: "files",
      id,
      files: files.slice(0, MAX_LISTED_FILES).map((f) => ({
        fileId: f.fileId,
        owner: f.owner,
        cipherSize: f.cipherSize,
        chunks: f.chunks,
        committed: f.committed,
        createdAt: f.createdAt,
        envelopes: f.announcements.slice(-MAX_LISTED_ANNOUNCEMENTS),
      })),
    };
  }

  /** Ends everything (the connection closed); unfinished uploads can resume later. */
  close(): void {
    this.#stop.abort();
    for (const fileId of [...this.#uploads.keys()]) this.#finishUpload(fileId);
  }

  /** Makes every chunk written so far durable (only those: later writes wait for the next commit). */
  async #commit(upload: Upload): Promise<void> {
    const target = upload.next;
    if (target === upload.committed) return;
    // Another server may have taken over the file if our lease lapsed: then write nothing.
    upload.claim.check();
    await this.#context.files.commit(upload.file.fileId, target);
    upload.committed = Math.max(upload.committed, target);
    this.#context.watchers.notify(upload.file.fileId);
  }

  /** Checks the envelope that announces a file (§8.4 step 6): from me, to its readers. */
  #announcement(request: FileBegin | FileShare) {
    return checkEnvelope(
      this.#context,
      this.#phone,
      request.messageId,
      request.readers,
      request.envelope,
    );
  }

  #finishUpload(fileId: string): void {
    this.#uploads.get(fileId)?.claim.release();
    this.#uploads.delete(fileId);
  }

  async #stream(file: FileRecord, from: number): Promise<void> {
    const { files, watchers } = this.#context;
    try {
      let committed = file.committed;
      let sending: Promise<void> = Promise.resolve();
      let buffer: Uint8Array | null = null; // allocated once there is a chunk to send
      for (let index = from; index < file.chunks; index++) {
        while (index >= committed && !this.#stop.signal.aborted) {
          const waiting = watchers.next(file.fileId, this.#stop.signal); // subscribe before reading
          const current = await files.getFile(file.fileId);
          if (!current) throw noSuchFile(file.fileId); // deleted meanwhile
          committed = current.committed;
          if (index < committed) break;
          await waiting;
        }
        if (this.#stop.signal.aborted) return;
        // One buffer serves every chunk: sending seals the chunk at once (the channel writes
        // only its ciphertext), so the buffer is free again by the next read.
        const data = await files.readChunk(
          file.fileId,
          index,
          buffer ??= new Uint8Array(file.chunkBytes),
        );
        // Read the next chunk while this one is written; at most two are held.
        await sending;
        sending = this.#channel.sendMessageWithBytes(
          { t: "file_data", fileId: file.fileId, index },
          "data",
          [data],
        );
      }
      await sending;
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      const e = error instanceof SspError ? error : new SspError("internal", String(error));
      await this.#channel.sendMessage({
        t: "file_failed",
        fileId: file.fileId,
        code: e.code,
        message: e.message,
      })
        .catch(() => {});
    }
  }
}

function checkLayout(request: FileBegin): void {
  const { cipherSize, chunkBytes, chunks } = request;
  const fits = chunks >= 1 && cipherSize > (chunks - 1) * chunkBytes &&
    cipherSize <= chunks * chunkBytes;
  if (!fits) {
    throw new ProtocolError(
      "bad_layout",
      `${chunks} chunks of ${chunkBytes} bytes cannot hold ${cipherSize} bytes`,
    );
  }
}

function noSuchFile(fileId: string): AuthError {
  // The same error whether the file is missing or not yours: ids reveal nothing.
  return new AuthError("no_such_file", `no file ${fileId} that you may read`);
}
