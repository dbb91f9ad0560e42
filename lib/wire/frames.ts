/**
 * Wire framing: every message on an ssp connection is one frame, a 4-byte
 * big-endian body length followed by the body (docs/protocol.md §2).
 *
 * The length is checked against a configurable maximum before anything is
 * allocated, so a peer cannot make us reserve memory by announcing a huge
 * frame. Reading is streaming: a frame is read as soon as its bytes arrive,
 * and at most one frame plus one read buffer is held at a time.
 *
 * @module
 */
import { FrameError } from "../errors.ts";

/** Bytes of the length prefix in front of every frame body. */
export const FRAME_HEADER_BYTES = 4;

/** Default largest frame body accepted or sent: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** Absolute ceiling for a configured maximum (the length field is 32 bits; 16 MiB is plenty). */
export const MAX_FRAME_BYTES_CEILING = 16 * 1024 * 1024;

/**
 * Size of the buffer a reader refills from while bytes keep coming. A body
 * larger than this is read straight into its own buffer. Allocated when
 * needed and dropped whenever the reader waits for a new frame with nothing
 * buffered, so an idle connection does not hold it.
 */
export const READ_CHUNK_BYTES = 8 * 1024;

/**
 * Size of the buffer a reader waits with for the start of a new frame: the
 * one buffer every idle connection holds (10,000 idle connections: 2.5 MiB).
 * A read that fills it means more bytes are waiting, so the next read uses
 * the READ_CHUNK_BYTES buffer; a small frame often fits whole.
 */
export const IDLE_READ_BYTES = 256;

/**
 * Smallest reused body buffer: bodies up to this size share one allocation.
 * A reused body buffer of any size is released after `releaseAfterMs`
 * without a new frame, so an idle connection holds only its idle read
 * buffer, however large its last frame was; back-to-back frames keep
 * reusing it.
 */
export const RETAINED_BODY_BYTES = 4 * 1024;

/** Default wait for the next frame after which a large body buffer is released. */
export const DEFAULT_RELEASE_AFTER_MS = 1000;

/** Something frames can be read from: `Deno.Conn` is one. */
export interface ByteSource {
  /** Reads into `p`; resolves to the number of bytes read, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/** Something frames can be written to: `Deno.Conn` is one. */
export interface ByteSink {
  /** Writes some prefix of `p`; resolves to how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
}

/** One frame as read from the wire. */
export interface Frame {
  /** The 4-byte length prefix exactly as received (authenticated as associated data). */
  header: Uint8Array;
  /** The frame body. */
  body: Uint8Array;
}

/** Throws a RangeError unless `max` is a usable frame size limit. */
export function checkMaxFrameBytes(max: number): void {
  if (!Number.isSafeInteger(max) || max < 64 || max > MAX_FRAME_BYTES_CEILING) {
    throw new RangeError(`max frame size must be 64..${MAX_FRAME_BYTES_CEILING} bytes, got ${max}`);
  }
}

/** Encodes the 4-byte header for a body of `length` bytes. */
export function encodeFrameHeader(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0 || length > 0xffff_ffff) {
    throw new RangeError(`frame length out of range: ${length}`);
  }
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, length);
  return header;
}

/** Encodes a whole frame: header then body. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  frame.set(encodeFrameHeader(body.length), 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** Writes all of `bytes` to `sink`, looping over partial writes. */
export async function writeAll(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await sink.write(bytes.subarray(written));
  }
}

/** Reads frames one at a time from a byte source. */
export class FrameReader {
  readonly #source: ByteSource;
  readonly #idleBuffer = new Uint8Array(IDLE_READ_BYTES);
  /** The READ_CHUNK_BYTES buffer while bytes keep coming; null while idle. */
  #chunkBuffer: Uint8Array | null = null;
  /** The buffer holding unread bytes `#start..#end`. */
  #buffer: Uint8Array = this.#idleBuffer;
  #start = 0;
  #end = 0;
  /** The last refill filled its buffer: more bytes are probably waiting. */
  #moreWaiting = false;
  /** Largest body accepted; may be changed between frames (e.g. after the handshake). */
  maxFrameBytes: number;
  /**
   * When true, frame bodies are read into one reused buffer: a body is then
   * valid only until the next `read()`. The record layer sets it, since it
   * decrypts each body at once; it saves an allocation per frame on bulk
   * transfers. Off by default (handshake bodies are kept in the transcript).
   */
  reuseBodies = false;
  /** Wait for the next frame after which the reused body buffer is released. */
  releaseAfterMs = DEFAULT_RELEASE_AFTER_MS;
  #bodyBuffer = new Uint8Array(0);
  #releaseTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(source: ByteSource, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    checkMaxFrameBytes(maxFrameBytes);
    this.#source = source;
    this.maxFrameBytes = maxFrameBytes;
  }

  /**
   * Reads the next frame. Resolves to null when the stream ends cleanly
   * between frames; throws FrameError when it ends inside a frame or the
   * announced length exceeds the limit.
   */
  async read(): Promise<Frame | null> {
    const header = await this.#readHeader();
    if (header === null) return null;
    const length = new DataView(header.buffer).getUint32(0);
    if (length > this.maxFrameBytes) {
      throw new FrameError(
        "frame_too_large",
        `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`,
      );
    }
    const body = length === 0
      ? new Uint8Array(0)
      : await this.#readExact(length, "body", this.reuseBodies);
    if (body === null) throw truncated(0, length, "body");
    return { header, body };
  }

  /** Bytes this reader holds in buffers between frames (read buffers and reused body buffer). */
  get heldBytes(): number {
    return this.#idleBuffer.length + (this.#chunkBuffer?.length ?? 0) + this.#bodyBuffer.length;
  }

  /**
   * Reads a frame header. While it waits with a body buffer, a timer releases
   * that buffer: bulk transfers keep reusing it, idle connections give it back.
   */
  async #readHeader(): Promise<Uint8Array | null> {
    const buffered = this.#end - this.#start >= FRAME_HEADER_BYTES;
    if (buffered || this.#bodyBuffer.length === 0) {
      return await this.#readExact(FRAME_HEADER_BYTES, "header");
    }
    // Held in a field, not a local: a local would keep the spent timer for as long as the wait.
    this.#releaseTimer = setTimeout(() => {
      this.#bodyBuffer = new Uint8Array(0);
      this.#releaseTimer = undefined;
    }, this.releaseAfterMs);
    try {
      return await this.#readExact(FRAME_HEADER_BYTES, "header");
    } finally {
      clearTimeout(this.#releaseTimer);
      this.#releaseTimer = undefined;
    }
  }

  /** Reads exactly n bytes; null if the stream ended before the first byte. */
  async #readExact(n: number, part: string, reuse = false): Promise<Uint8Array | null> {
    if (reuse && this.#bodyBuffer.length < n) {
      this.#bodyBuffer = new Uint8Array(bodyBufferSize(n, this.maxFrameBytes));
    }
    const out = reuse ? this.#bodyBuffer.subarray(0, n) : new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#start < this.#end) {
        const take = Math.min(n - filled, this.#end - this.#start);
        out.set(this.#buffer.subarray(this.#start, this.#start + take), filled);
        this.#start += take;
        filled += take;
        continue;
      }
      // Large remainders go straight into the frame; small ones through a buffer.
      const direct = n - filled >= READ_CHUNK_BYTES;
      const target = direct
        ? out.subarray(filled)
        : this.#refillBuffer(part === "header" && filled === 0);
      const count = await this.#source.read(target);
      if (count === null || count === 0) {
        if (filled === 0 && part === "header") return null;
        throw truncated(filled, n, part);
      }
      if (direct) {
        filled += count;
      } else {
        this.#buffer = target;
        this.#start = 0;
        this.#end = count;
        this.#moreWaiting = count === target.length;
      }
    }
    return out;
  }

  /**
   * The buffer for the next refill. A new frame awaited with nothing
   * buffered may be a long wait, so unless the last refill suggested more
   * bytes are waiting it gets the small idle buffer, and the chunk buffer
   * goes.
   */
  #refillBuffer(newFrame: boolean): Uint8Array {
    if (newFrame && !this.#moreWaiting) {
      this.#chunkBuffer = null;
      return this.#idleBuffer;
    }
    return this.#chunkBuffer ??= new Uint8Array(READ_CHUNK_BYTES);
  }
}

/**
 * A reused body buffer for an `n`-byte body: a power of two (so growing
 * frames reallocate rarely), never above what the limit needs.
 */
function bodyBufferSize(n: number, max: number): number {
  const power = Math.max(RETAINED_BODY_BYTES, 2 ** Math.ceil(Math.log2(n)));
  return Math.min(power, Math.max(n, max));
}

function truncated(got: number, wanted: number, part: string): FrameError {
  return new FrameError(
    "frame_truncated",
    `connection closed inside a frame ${part} (${got} of ${wanted} bytes)`,
  );
}
