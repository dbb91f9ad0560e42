/**
 * The secure channel driver: runs a handshake state machine over a socket,
 * then carries application messages as sealed records (docs/protocol.md §4).
 *
 * A record is one frame whose body is `ciphertext || tag`; the frame's 4-byte
 * length prefix is the associated data and the nonce is the implicit record
 * counter, so a tampered, replayed, reordered or dropped record fails to open.
 * Any failure closes the channel.
 *
 * @module
 */
import {
  type ByteSink,
  type ByteSource,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  encodeFrameHeader,
  encodeMessage,
  encodeMessageTransient,
  encodeMessageWithBytes,
  FrameReader,
  type RecordLimits,
  RecordOpener,
  RecordSealer,
  writeAll,
} from "../wire/mod.ts";
import { HandshakeError, RecordError, SspError } from "../errors.ts";
import {
  type Alert,
  ClientHandshake,
  type ClientHandshakeOptions,
  type HandshakeResult,
  MAX_HANDSHAKE_FRAME_BYTES,
  ServerHandshake,
  type ServerHandshakeOptions,
} from "../handshake/mod.ts";
import { TAG_BYTES } from "../crypto/mod.ts";

/** Default time a peer has to complete the handshake: 10 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Longest `closeWithAlert` waits for the alert to be written. */
const CLOSE_ALERT_TIMEOUT_MS = 1000;

/** A connection the channel runs over: `Deno.Conn` is one. */
export interface Connection extends ByteSource, ByteSink {
  /** Closes both directions. */
  close(): void;
}

/** Options common to both sides. */
export interface ChannelOptions {
  /** Largest record frame body accepted and sent (default 1 MiB). */
  maxFrameBytes?: number;
  /** Rekey and exhaustion bounds of the record cipher (tests lower them). */
  recordLimits?: RecordLimits;
  /** Time the whole handshake may take before the connection is closed. */
  handshakeTimeoutMs?: number;
}

/** An established channel: send and receive application message bodies. */
export class SecureChannel {
  readonly #conn: Connection;
  readonly #reader: FrameReader;
  readonly #sealer: RecordSealer;
  readonly #opener: RecordOpener;
  readonly #maxFrameBytes: number;
  #writing: Promise<void> = Promise.resolve();
  /** Bytes of frames sealed and not yet written to the connection. */
  #queuedBytes = 0;
  /** Records written so far: progress, for `drain`. */
  #recordsWritten = 0;
  #closed = false;
  #receiveError: unknown = undefined;
  /** What the handshake established. */
  readonly session: HandshakeResult;

  constructor(
    conn: Connection,
    reader: FrameReader,
    session: HandshakeResult,
    options: ChannelOptions,
  ) {
    this.#conn = conn;
    this.#reader = reader;
    this.session = session;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    reader.maxFrameBytes = this.#maxFrameBytes;
    reader.reuseBodies = true; // receive() opens each body at once (see FrameReader.reuseBodies)
    this.#sealer = new RecordSealer(session.sendKey, options.recordLimits, session.suite);
    this.#opener = new RecordOpener(session.receiveKey, options.recordLimits, session.suite);
    // The record layer keeps (and ratchets) its own copies; wipe these so a
    // later memory disclosure cannot recover earlier epochs' keys from them.
    session.sendKey.fill(0);
    session.receiveKey.fill(0);
  }

  /**
   * Largest record frame accepted from the peer from the next `receive()` on:
   * a server lowers it until the client has logged in (pre-login requests are
   * small), then sets it back with `null` (the channel's `maxFrameBytes`).
   */
  limitReceivedFrames(maxBytes: number | null): void {
    this.#reader.maxFrameBytes = Math.min(maxBytes ?? this.#maxFrameBytes, this.#maxFrameBytes);
  }

  /** Largest record frame accepted from the peer now. */
  get receiveLimit(): number {
    return this.#reader.maxFrameBytes;
  }

  /** Bytes sealed and queued but not yet written: what a peer that does not read makes us hold. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * Waits until every record queued so far has been written. Resolves to
   * false if no record at all is written for `timeoutMs` (the peer is not
   * reading); a slow but steady reader is waited for however long it takes.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const target = this.#writing;
    let done = false;
    void target.then(() => done = true);
    while (this.#queuedBytes > 0 && !done) {
      const progress = this.#recordsWritten;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
      try {
        await Promise.race([target, late]);
      } finally {
        clearTimeout(timer);
      }
      if (!done && this.#recordsWritten === progress) return false;
    }
    return true;
  }

  /** Largest plaintext one record can carry. */
  get maxPlaintextBytes(): number {
    return this.#maxFrameBytes - TAG_BYTES;
  }

  /**
   * Seals `plaintext` into the next record and queues it for writing.
   * Records are sealed in call order, which is also the order they are written.
   */
  send(plaintext: Uint8Array): Promise<void> {
    return this.#sendParts([plaintext]);
  }

  /**
   * Encodes and sends an application message. The encoding is sealed at once,
   * so it can live in a shared buffer (no per-message allocation).
   */
  sendMessage<T extends { readonly t: string }>(message: T): Promise<void> {
    return this.send(encodeMessageTransient(message));
  }

  /**
   * Sends `message` with one more field, `field`, holding the bytes `parts`
   * joined (see `encodeMessageWithBytes`): a sealed file chunk is encrypted
   * from where it lies straight into the record's frame, never joined first.
   * The parts are sealed before this returns: the caller may reuse them at once.
   */
  sendMessageWithBytes<T extends { readonly t: string }>(
    message: T,
    field: string,
    parts: readonly Uint8Array[],
  ): Promise<void> {
    return this.#sendParts(encodeMessageWithBytes(message, field, parts));
  }

  /** Seals the record whose body is `parts` joined and queues its frame for writing. */
  #sendParts(parts: readonly Uint8Array[]): Promise<void> {
    if (this.#closed) return Promise.reject(new RecordError("channel_closed", "channel is closed"));
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    if (length > this.maxPlaintextBytes) {
      return Promise.reject(
        new RangeError(`record of ${length} bytes exceeds the limit of ${this.maxPlaintextBytes}`),
      );
    }
    const header = encodeFrameHeader(length + TAG_BYTES);
    // The whole frame in one buffer, the parts encrypted straight into it: one write.
    const frame = this.#sealer.sealFrame(header, parts);
    this.#queuedBytes += frame.length;
    const write = this.#writing.then(async () => {
      await writeAll(this.#conn, frame);
      this.#recordsWritten++;
    }).finally(() => this.#queuedBytes -= frame.length);
    this.#writing = write.catch(() => {});
    return write;
  }

  /** Resolves when every queued record has been written. */
  flush(): Promise<void> {
    return this.#writing;
  }

  /**
   * Reads and opens the next record. Resolves to null when the peer closed
   * cleanly between records. Throws on any error, and from then on every
   * call throws the same error: the receiving direction is dead, and the
   * caller should send an alert (the sending direction still works) and close.
   */
  async receive(): Promise<Uint8Array | null> {
    if (this.#receiveError !== undefined) throw this.#receiveError;
    try {
      const frame = await this.#reader.read();
      if (frame === null) return null;
      return this.#opener.open(frame.header, frame.body);
    } catch (error) {
      this.#receiveError = error;
      throw error;
    }
  }

  /**
   * Sends an alert record (best effort) and closes. A peer that does not
   * read gets no goodbye: the close waits at most CLOSE_ALERT_TIMEOUT_MS.
   */
  async closeWithAlert(code: string, message: string): Promise<void> {
    this.send(encodeMessage({ t: "alert", code, message } satisfies Alert))
      .catch(() => {}); // the peer may be gone already
    await this.drain(CLOSE_ALERT_TIMEOUT_MS);
    this.close();
  }

  /** Closes the connection; later sends fail and pending reads end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

/** Client-side options: the handshake's plus a check of the server's identity. */
export interface ConnectOptions extends ChannelOptions, ClientHandshakeOptions {
  /**
   * Called with the server's verified identity key before the client confirms
   * the handshake; throw to refuse the server (e.g. a changed pinned key).
   */
  checkServerIdentity?: (identity: Uint8Array, session: HandshakeResult) => Promise<void> | void;
}

/** Runs the client handshake over `conn` and returns the channel. */
export async function clientHandshake(
  conn: Connection,
  options: ConnectOptions = {},
): Promise<SecureChannel> {
  const reader = new FrameReader(conn, MAX_HANDSHAKE_FRAME_BYTES);
  const machine = new ClientHandshake(options);
  return await withTimeout(conn, options.handshakeTimeoutMs, async () => {
    try {
      await writeFrame(conn, machine.clientHello());
      const share = await machine.onServerHello(await readHandshakeFrame(reader, "server_hello"));
      await writeFrame(conn, share);
      const { clientFinished, result } = await machine.onServerAuth(
        await readHandshakeFrame(reader, "server_auth"),
      );
      await options.checkServerIdentity?.(result.serverIdentity, result);
      await writeFrame(conn, clientFinished);
      return new SecureChannel(conn, reader, result, options);
    } catch (error) {
      await alertPeer(conn, error);
      throw error;
    }
  });
}

/** Server-side options. */
export interface AcceptOptions extends ChannelOptions, ServerHandshakeOptions {}

/** Runs the server handshake over `conn` and returns the channel. */
export async function serverHandshake(
  conn: Connection,
  options: AcceptOptions,
): Promise<SecureChannel> {
  const reader = new FrameReader(conn, MAX_HANDSHAKE_FRAME_BYTES);
  const machine = new ServerHandshake(options);
  return await withTimeout(conn, options.handshakeTimeoutMs, async () => {
    try {
      await writeFrame(
        conn,
        await machine.onClientHello(await readHandshakeFrame(reader, "client_hello")),
      );
      await writeFrame(
        conn,
        await machine.onClientShare(await readHandshakeFrame(reader, "client_share")),
      );
      const result = machine.onClientFinished(await readHandshakeFrame(reader, "client_finished"));
      return new SecureChannel(conn, reader, result, options);
    } catch (error) {
      await alertPeer(conn, error);
      throw error;
    }
  });
}

function writeFrame(conn: Connection, body: Uint8Array): Promise<void> {
  return writeAll(conn, encodeFrame(body));
}

async function readHandshakeFrame(reader: FrameReader, stage: string): Promise<Uint8Array> {
  let frame;
  try {
    frame = await reader.read();
  } catch (error) {
    if (error instanceof SspError) {
      throw new HandshakeError(error.code, stage, `handshake ${stage}: ${error.message}`, {
        cause: error,
      });
    }
    throw new HandshakeError(
      "connection_lost",
      stage,
      `connection lost while waiting for ${stage}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (frame === null) {
    throw new HandshakeError(
      "connection_closed",
      stage,
      `peer closed the connection while waiting for ${stage}`,
    );
  }
  return frame.body;
}

/**
 * Tells the peer why the handshake failed, in the clear (the peer is still
 * reading plaintext frames). Not for errors that are the peer's own alert.
 */
async function alertPeer(conn: Connection, error: unknown): Promise<void> {
  if (!(error instanceof SspError) || error.code.startsWith("peer_")) return;
  await sendPlainAlert(conn, error.code, error.message);
}

async function sendPlainAlert(conn: Connection, code: string, message: string): Promise<void> {
  try {
    await writeFrame(conn, encodeMessage({ t: "alert", code, message } satisfies Alert));
  } catch { /* the peer may be gone already */ }
}

/** Runs `work`; if it takes longer than `timeoutMs`, closes `conn` and fails. */
async function withTimeout<T>(
  conn: Connection,
  timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS,
  work: () => Promise<T>,
): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  }, timeoutMs);
  try {
    return await work();
  } catch (error) {
    if (timedOut) {
      throw new HandshakeError(
        "handshake_timeout",
        "handshake",
        `handshake not completed within ${timeoutMs} ms`,
        { cause: error },
      );
    }
    try {
      conn.close();
    } catch { /* already closed */ }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
