/**
 * The error classes every part of ssp throws. Each carries a stable `code`
 * (for `--json` output and tests) and, where one exists, a `hint` that tells
 * the user what to do next.
 *
 * @module
 */

/** Options shared by every ssp error. */
export interface SspErrorOptions {
  /** What the user can do about it, shown after the message. */
  hint?: string;
  /** The underlying error, if any. */
  cause?: unknown;
  /** For temporary refusals (rate limits, storage outages): when to try again. */
  retryAfterMs?: number;
}

/** Base class of all ssp errors. */
export class SspError extends Error {
  /** Machine-readable error code, stable across versions. */
  readonly code: string;
  /** What the user can do about it, if anything. */
  readonly hint: string | undefined;
  /** For temporary refusals: milliseconds until a retry may succeed. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, options: SspErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A frame or message on the wire is malformed, oversized or truncated. */
export class FrameError extends SspError {}

/** A Diffie-Hellman group or public value is invalid or too weak. */
export class DhError extends SspError {}

/** A record failed to decrypt or authenticate, or the cipher was misused. */
export class RecordError extends SspError {}

/** The handshake failed; `stage` names the step at which it did. */
export class HandshakeError extends SspError {
  /** The handshake step that failed, e.g. `"server_auth"`. */
  readonly stage: string;

  constructor(code: string, stage: string, message: string, options: SspErrorOptions = {}) {
    super(code, message, options);
    this.stage = stage;
  }
}

/** The peer broke the application protocol after the handshake. */
export class ProtocolError extends SspError {}

/** The store failed or is unavailable; the request may be retried. */
export class StorageError extends SspError {}

/** Logging in or registering failed. */
export class AuthError extends SspError {}

/** An end-to-end envelope failed verification or decryption, or is malformed. */
export class EnvelopeError extends SspError {}
