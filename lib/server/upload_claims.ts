/**
 * One uploader per file at a time (docs/protocol.md §8.4), on one server and
 * across servers that share a file store (docs/scaling.md).
 *
 * A claim is taken in two steps. The server's own set of claimed ids is
 * checked and updated synchronously, before any await, so two connections
 * to one server never both pass. Then, if the file store is shared, its
 * lease is taken in the database ({@linkcode UploadLeases}), which refuses a
 * second server. The lease lasts `leaseMs` and is renewed every third of
 * that while the claim is held; it is released when the upload ends, fails
 * or its connection closes, and a server that dies holding it blocks the file
 * only until it runs out.
 *
 * A holder must not write once its lease may have lapsed (a stalled server,
 * a database it cannot reach): `check()` throws from the moment the last
 * confirmed renewal runs out, timed from before that renewal was sent, and
 * as soon as a renewal finds the lease taken by another.
 *
 * @module
 */
import { SspError } from "../errors.ts";
import type { UploadLeases } from "../store/files.ts";

/** Default lifetime of an upload lease without renewal: 30 s. */
export const DEFAULT_UPLOAD_LEASE_MS = 30_000;

/** The claims of one server. */
export class UploadClaims {
  readonly #local = new Set<string>();
  readonly #leases: UploadLeases | null;
  readonly #leaseMs: number;

  /**
   * @param leases The file store's shared leases; null when no other server
   * shares the store.
   * @param leaseMs How long a lease lasts unless renewed.
   */
  constructor(leases: UploadLeases | null, leaseMs = DEFAULT_UPLOAD_LEASE_MS) {
    this.#leases = leases;
    this.#leaseMs = leaseMs;
  }

  /**
   * Claims `fileId` for the caller; throws `refusal` if a connection here or
   * on another server has it.
   */
  async claim(fileId: string, refusal: SspError): Promise<UploadClaim> {
    if (this.#local.has(fileId)) throw refusal;
    // Claimed before the first await: two connections here never both get past this.
    this.#local.add(fileId);
    const forget = () => this.#local.delete(fileId);
    if (!this.#leases) return new UploadClaim(forget, null);
    const lease = new Lease(this.#leases, fileId, this.#leaseMs);
    try {
      if (await lease.take()) return new UploadClaim(forget, lease);
    } catch (error) {
      forget();
      throw error;
    }
    forget();
    throw refusal;
  }
}

/** A held claim. */
export class UploadClaim {
  readonly #forget: () => void;
  readonly #lease: Lease | null;
  #released = false;

  constructor(forget: () => void, lease: Lease | null) {
    this.#forget = forget;
    this.#lease = lease;
  }

  /** Throws if the claim may no longer be held: the file must not be written then. */
  check(): void {
    this.#lease?.check();
  }

  /** False if `check()` would throw. */
  valid(): boolean {
    try {
      this.check();
      return true;
    } catch {
      return false;
    }
  }

  /** Gives the claim up (once; later calls do nothing). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#forget();
    this.#lease?.release();
  }
}

/** A lease in the shared store, renewed in the background while held. */
class Lease {
  readonly #leases: UploadLeases;
  readonly #fileId: string;
  readonly #leaseMs: number;
  /** Unique per claim: a lease is this claim's only while it names this holder. */
  readonly #holder = crypto.randomUUID();
  /** Until when the lease is surely ours (our clock, from before the last confirmation). */
  #validUntil = 0;
  #lost = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The renewal in flight, if any. */
  #renewal: Promise<void> | null = null;

  constructor(leases: UploadLeases, fileId: string, leaseMs: number) {
    this.#leases = leases;
    this.#fileId = fileId;
    this.#leaseMs = leaseMs;
  }

  /** Takes the lease; on success, renews it every third of its lifetime until released. */
  async take(): Promise<boolean> {
    if (!await this.#acquire()) return false;
    this.#timer = setInterval(() => {
      this.#renewal ??= this.#renew().finally(() => this.#renewal = null);
    }, Math.max(1, Math.floor(this.#leaseMs / 3)));
    return true;
  }

  check(): void {
    if (this.#lost) {
      throw new SspError(
        "upload_busy",
        "this upload's lease on the file lapsed and another connection took it over",
        { hint: "begin the upload again to resume it", retryAfterMs: 1000 },
      );
    }
    if (Date.now() >= this.#validUntil) {
      throw new SspError(
        "storage_unavailable",
        "this upload's lease on the file could not be renewed in time",
        { hint: "begin the upload again to resume it", retryAfterMs: 1000 },
      );
    }
  }

  release(): void {
    clearInterval(this.#timer);
    // After a renewal in flight, which would otherwise take the lease again. Not awaited:
    // if it fails (the database is unreachable), the lease runs out by itself.
    void (this.#renewal ?? Promise.resolve())
      .then(() => this.#lost ? undefined : this.#leases.release(this.#fileId, this.#holder))
      .catch(() => {});
  }

  async #acquire(): Promise<boolean> {
    const asked = Date.now();
    const got = await this.#leases.acquire(this.#fileId, this.#holder, this.#leaseMs);
    if (got) this.#validUntil = asked + this.#leaseMs;
    return got;
  }

  async #renew(): Promise<void> {
    if (this.#lost) return;
    try {
      if (!await this.#acquire()) {
        this.#lost = true;
        clearInterval(this.#timer);
      }
    } catch {
      // Unreachable for now: the next renewal tries again; check() fails once #validUntil passes.
    }
  }
}
