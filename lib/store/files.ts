/**
 * Storage of end-to-end encrypted files: metadata plus encrypted chunks.
 * Like `Store`, it never sees plaintext or file names — only sizes, owners,
 * readers and opaque chunks. The embedded implementation keeps chunks on
 * disk (`disk_files.ts`), the MongoDB one in a chunk collection (`mongo_files.ts`).
 *
 * @module
 */

/** A stored (or in-progress) upload. */
export interface FileRecord {
  /** 32 lowercase hex digits, chosen by the uploader. */
  fileId: string;
  /** Uploader (E.164). */
  owner: string;
  /** Total ciphertext bytes. */
  cipherSize: number;
  /** Ciphertext bytes of every chunk but the last (which may be shorter). */
  chunkBytes: number;
  /** Number of chunks. */
  chunks: number;
  /** Chunks 0 … committed−1 are durably stored. */
  committed: number;
  /** Phone numbers that may download it, besides the owner. */
  readers: string[];
  /** The end-to-end envelopes that announced the file (opaque), oldest first. */
  announcements: Uint8Array[];
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** What a new upload declares. */
export type NewFile = Omit<FileRecord, "committed" | "createdAt" | "announcements"> & {
  announcement: Uint8Array;
};

/**
 * What `createFile` did: created the record, found one with the same id
 * (whoever owns it), or refused because the owner's files would exceed the
 * quota (`usedBytes` without the new file).
 */
export type CreateResult =
  | { status: "created"; record: FileRecord }
  | { status: "exists"; record: FileRecord }
  | { status: "over_quota"; usedBytes: number };

/**
 * Expiring, exclusive claims on file ids, shared by every server on one file
 * store: they keep a file to one uploader at a time across servers
 * (docs/scaling.md). A lease that is not renewed lapses, so a server that
 * dies mid-upload blocks its file only until then.
 */
export interface UploadLeases {
  /**
   * Takes `fileId`'s lease for `holder`, or renews it if `holder` has it, to
   * last `leaseMs` from now. False (and no change) while another holder's
   * lease has not run out. Of parallel takers of a free lease, one gets it.
   */
  acquire(fileId: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease back if `holder` has it (else does nothing). */
  release(fileId: string, holder: string): Promise<void>;
}

/** Encrypted file storage. Methods may throw StorageError. */
export interface FileStore {
  /**
   * Upload leases shared with other servers on this store; null when one
   * process owns the store (the embedded one), whose server's own claims
   * then suffice.
   */
  readonly leases: UploadLeases | null;
  /**
   * Creates the record unless one with the same id exists, which it returns
   * instead (an upload resumed, or someone else's file: the caller checks the
   * owner). A new record is created only if the owner's files stay within
   * `quotaBytes` (default: no limit). The id check, the quota check and the
   * creation are one atomic step: of parallel creators of one id exactly one
   * gets "created", and parallel creations by one owner never exceed the quota.
   */
  createFile(file: NewFile, quotaBytes?: number): Promise<CreateResult>;
  /** The record, or null. */
  getFile(fileId: string): Promise<FileRecord | null>;
  /** Lets more people download the file, announced by one more envelope. */
  share(fileId: string, readers: string[], announcement: Uint8Array): Promise<void>;
  /** Writes one chunk (not yet durable: see commit). */
  writeChunk(fileId: string, index: number, data: Uint8Array): Promise<void>;
  /** Makes chunks [0, committed) durable, then records the count. */
  commit(fileId: string, committed: number): Promise<void>;
  /**
   * Reads one committed chunk. A store may read it into `into` (when that is
   * large enough) and return a view of it, so the caller must be done with
   * the result before it reuses `into`.
   */
  readChunk(fileId: string, index: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Deletes the record and every chunk; false if there was no such file. */
  deleteFile(fileId: string): Promise<boolean>;
  /** Ciphertext bytes of all files `owner` uploaded (for the quota). */
  usedBytes(owner: string): Promise<number>;
  /** Files `phone` uploaded or may download, newest first. */
  listFiles(phone: string): Promise<FileRecord[]>;
  /** Releases the store. */
  close(): Promise<void>;
}

/**
 * Whole-store access for migration (`migrate.ts`), which must copy records
 * as they are — ids, owners, every announcement, creation times — while
 * `createFile` assigns the time and takes one announcement.
 */
export interface FileDump {
  /** Every file record, by fileId, complete or not. */
  allFiles(): AsyncIterable<FileRecord>;
  /**
   * Stores `record` exactly as it is, but with committed = 0 and no chunks;
   * its chunks are then written with writeChunk and made durable with commit.
   * Throws StorageError if the id is taken.
   */
  importFile(record: FileRecord): Promise<void>;
}

/** Byte offset of chunk `index` in the concatenated ciphertext. */
export function chunkOffset(file: Pick<FileRecord, "chunkBytes">, index: number): number {
  return index * file.chunkBytes;
}

/** Ciphertext length of chunk `index`. */
export function chunkLength(
  file: Pick<FileRecord, "chunkBytes" | "chunks" | "cipherSize">,
  index: number,
): number {
  return index < file.chunks - 1 ? file.chunkBytes : file.cipherSize - index * file.chunkBytes;
}

/** True if `phone` may download the file. */
export function mayRead(file: Pick<FileRecord, "owner" | "readers">, phone: string): boolean {
  return file.owner === phone || file.readers.includes(phone);
}
