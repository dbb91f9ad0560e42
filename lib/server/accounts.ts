/**
 * Registration, login and password change, as the server sees them. The
 * server never receives a password: the client sends an auth key derived
 * from it, and the server keeps a salted hash (verifier) of that key.
 *
 * Unknown numbers are indistinguishable from wrong passwords: prelogin hands
 * out a stable fake salt for them, and login does the same work and gives the
 * same error either way.
 *
 * @module
 */
import { constantTimeEqual } from "../bytes.ts";
import { fakeSaltFor, verifierOf } from "../e2e/mod.ts";
import { AuthError, SspError } from "../errors.ts";
import { EXAMPLE_PHONE, isE164 } from "../phone.ts";
import type { ChangePassword, Register } from "../protocol/mod.ts";
import type { AccountRecord, StateChain, Store } from "../store/types.ts";
import type { DeviceTokens } from "./device_tokens.ts";
import { type Bucket, RateLimiter } from "./rate_limit.ts";
import { ALL_ADDRESSES_KEY, ChainRateLimiter } from "./shared_registrations.ts";
import { reserveEach, type SharedLoginThrottles } from "./shared_throttle.ts";
import {
  ADDRESS_POLICY,
  DEFAULT_THROTTLE_ENTRIES,
  DEVICE_POLICY,
  NUMBER_POLICY,
  type SharedThrottle,
  Throttle,
} from "./throttle.ts";

const VERIFIER_SALT_BYTES = 16;
const LOGIN_FAILED = "wrong phone number or password";
const HOUR_MS = 3600_000;

/** Default registrations allowed per source address per hour. */
export const DEFAULT_REGISTRATIONS_PER_ADDRESS = 10;

/** Default registrations allowed per hour over all addresses. */
export const DEFAULT_REGISTRATIONS_PER_HOUR = 1000;

/** Limits on logins and registrations; each has a server flag. */
export interface AccountLimits {
  /** Keys each login throttle table remembers (`--login-throttle-entries`). */
  throttleEntries?: number;
  /** Registrations per address per hour (`--registrations-per-address`). */
  registrationsPerAddress?: number;
  /** Registrations per hour in total (`--registrations-per-hour`). */
  registrationsPerHour?: number;
  /** The clock (tests). */
  now?: () => number;
  /**
   * The back-offs shared with the other servers on one database (`--mongo`):
   * each checked after this server's own (docs/security.md).
   */
  shared?: SharedLoginThrottles;
  /**
   * The registration buckets shared with the other servers on one database
   * (`--mongo`; the collection `registration_limits`): each checked after
   * this server's own.
   */
  sharedRegistrations?: StateChain<Bucket>;
}

/** A successful login: the account and a device token for the client to keep. */
export interface LoginResult {
  account: AccountRecord;
  deviceToken: Uint8Array;
}

/** Server-side account logic over a store. */
export class Accounts {
  readonly #store: Store;
  readonly #secret: Uint8Array;
  readonly #defaultKdf: string;
  readonly #tokens: DeviceTokens;
  /** Failures of each number from devices without a token: the per-number budget. */
  readonly #byNumber: Throttle;
  /** Failures from each address without a token. */
  readonly #byAddress: Throttle;
  /** Failures of each number from its known devices (keyed number:token epoch). */
  readonly #byDevice: Throttle;
  readonly #shared: SharedLoginThrottles | null;
  readonly #registrationsByAddress: RateLimiter;
  readonly #registrations: RateLimiter;
  /** The same two limits in the database (`--mongo`), or null. */
  readonly #sharedRegistrations: { byAddress: ChainRateLimiter; total: ChainRateLimiter } | null;
  /** Verified against for unknown numbers, so both paths do the same work. */
  readonly #dummySalt = crypto.getRandomValues(new Uint8Array(VERIFIER_SALT_BYTES));

  /**
   * @param secret server secret for fake salts (stable across restarts)
   * @param defaultKdf KDF parameters handed out with fake salts (what a real account would have)
   * @param tokens issues and checks device tokens
   */
  constructor(
    store: Store,
    secret: Uint8Array,
    defaultKdf: string,
    tokens: DeviceTokens,
    limits: AccountLimits = {},
  ) {
    this.#store = store;
    this.#secret = secret;
    this.#defaultKdf = defaultKdf;
    this.#tokens = tokens;
    const now = limits.now ?? Date.now;
    const maxEntries = limits.throttleEntries ?? DEFAULT_THROTTLE_ENTRIES;
    this.#byNumber = new Throttle({ ...NUMBER_POLICY, maxEntries }, now);
    this.#byAddress = new Throttle({ ...ADDRESS_POLICY, maxEntries }, now);
    this.#byDevice = new Throttle({ ...DEVICE_POLICY, maxEntries }, now);
    this.#shared = limits.shared ?? null;
    const perAddress = {
      perPeriod: limits.registrationsPerAddress ?? DEFAULT_REGISTRATIONS_PER_ADDRESS,
      periodMs: HOUR_MS,
    };
    const perHour = {
      perPeriod: limits.registrationsPerHour ?? DEFAULT_REGISTRATIONS_PER_HOUR,
      periodMs: HOUR_MS,
    };
    this.#registrationsByAddress = new RateLimiter({ ...perAddress, maxEntries }, now);
    this.#registrations = new RateLimiter({ ...perHour, maxEntries: 1 }, now);
    const chain = limits.sharedRegistrations;
    this.#sharedRegistrations = chain
      ? {
        byAddress: new ChainRateLimiter(chain, perAddress, now),
        total: new ChainRateLimiter(chain, perHour, now),
      }
      : null;
  }

  /** The KDF salt and parameters for `phone` (fake but stable when there is no such account). */
  async prelogin(phone: string): Promise<{ salt: Uint8Array; kdf: string }> {
    const account = await this.#store.getAccount(phone);
    if (account) return { salt: account.kdfSalt, kdf: account.kdfParams };
    return { salt: fakeSaltFor(this.#secret, phone), kdf: this.#defaultKdf };
  }

  /**
   * Creates an account; AuthError "phone_taken" if the number is registered,
   * "rate_limited" if `address` or the server has used its registrations.
   */
  async register(request: Register, address: string): Promise<void> {
    checkPhone(request.phone);
    // Spent before the store is asked, so parallel requests cannot share one.
    const fromAddress = this.#registrationsByAddress.take(address);
    const total = fromAddress > 0 ? 0 : this.#registrations.take("all");
    if (fromAddress > 0 || total > 0) throw registrationsUsedUp(fromAddress, total);
    // Then the buckets every server shares, in the same order: what this
    // server's own refused costs the database nothing. As in memory, nothing
    // taken is given back (a taken number, a refusal by the total).
    const shared = this.#sharedRegistrations;
    if (shared) {
      const fromAddress = await shared.byAddress.take(address);
      const total = fromAddress > 0 ? 0 : await shared.total.take(ALL_ADDRESSES_KEY);
      if (fromAddress > 0 || total > 0) throw registrationsUsedUp(fromAddress, total);
    }
    const verifierSalt = crypto.getRandomValues(new Uint8Array(VERIFIER_SALT_BYTES));
    const created = await this.#store.createAccount({
      phone: request.phone,
      kdfSalt: request.salt,
      kdfParams: request.kdf,
      verifierSalt,
      verifier: verifierOf(request.authKey, verifierSalt),
      encryptionKey: request.encryptionKey,
      signingKey: request.signingKey,
      keyBackup: request.keyBackup,
      createdAt: Date.now(),
    });
    if (!created) {
      throw new AuthError("phone_taken", `${request.phone} is already registered`, {
        hint: "log in instead, or register another number",
      });
    }
  }

  /**
   * Checks `authKey` for `phone`; returns the account and a new device token.
   * Throws AuthError "rate_limited" (with retryAfterMs) while backed off, else
   * "auth_failed" for an unknown number or a wrong key alike.
   *
   * With a current `deviceToken` (a known device) only the number's
   * known-device back-off applies; otherwise the number's budget and the
   * address's back-off do. The attempt is reserved under those keys before
   * anything is awaited and settled after (§6.8). A token whose tag is valid
   * but whose epoch an earlier password change ended makes a new device.
   */
  async login(
    phone: string,
    authKey: Uint8Array,
    address: string,
    deviceToken?: Uint8Array,
  ): Promise<LoginResult> {
    const epoch = this.#tokens.epochIn(phone, deviceToken);
    if (epoch !== null) {
      const result = await this.#knownDeviceLogin(phone, authKey, epoch);
      if (result) return result;
    }
    return await this.#newDeviceLogin(phone, authKey, address);
  }

  /**
   * A login with a token of `epoch`: null (nothing counted) if that epoch is
   * not the account's. Shared state is only read unless the attempt fails
   * (or succeeds after failures, which it clears): a successful login costs
   * the account read and one read of the shared back-off, in parallel.
   */
  async #knownDeviceLogin(
    phone: string,
    authKey: Uint8Array,
    epoch: string,
  ): Promise<LoginResult | null> {
    const key = `${phone}:${epoch}`;
    reserveAll([[this.#byDevice, key]]);
    const shared = this.#shared?.devices ?? null;
    let failed: boolean | null = null; // null: not checked (refused, stale token, store failure)
    let sharedFailures = 0;
    try {
      const [sharedState, account] = await Promise.all([
        shared?.peek(key),
        this.#store.getAccount(phone),
      ]);
      if (!account || !this.#tokens.isCurrent(epoch, account.verifierSalt)) return null;
      if (sharedState && sharedState.wait > 0) throw rateLimited(sharedState.wait);
      sharedFailures = sharedState?.failures ?? 0;
      failed = !constantTimeEqual(verifierOf(authKey, account.verifierSalt), account.verifier);
      if (failed) throw authFailed();
      return { account, deviceToken: this.#tokens.issue(phone, account.verifierSalt) };
    } finally {
      if (failed === null) this.#byDevice.release(key);
      else this.#byDevice.settle(key, failed);
      if (shared && failed !== null && (failed || sharedFailures > 0)) {
        // A store failure here leaves a failure uncounted (the answer is decided already).
        await shared.record(key, failed).catch(() => {});
      }
    }
  }

  /** A login without a current token: the number's budget and the address's back-off. */
  async #newDeviceLogin(
    phone: string,
    authKey: Uint8Array,
    address: string,
  ): Promise<LoginResult> {
    const keys: [Throttle, string][] = [[this.#byNumber, phone], [this.#byAddress, address]];
    reserveAll(keys);
    let failed: boolean | null = null; // null: the check did not run (store failure)
    // The same keys shared with the other servers, after this server's own.
    const shared: [SharedThrottle, string][] = this.#shared
      ? [[this.#shared.numbers, phone], [this.#shared.addresses, address]]
      : [];
    let sharedIds: string[] = [];
    try {
      if (shared.length > 0) {
        const { wait, ids } = await reserveEach(shared);
        if (wait > 0) throw rateLimited(wait);
        sharedIds = ids;
      }
      const account = await this.#store.getAccount(phone);
      const salt = account?.verifierSalt ?? this.#dummySalt;
      const expected = account?.verifier ?? new Uint8Array(32);
      const matches = constantTimeEqual(verifierOf(authKey, salt), expected);
      failed = !account || !matches;
      if (!account || !matches) throw authFailed();
      return { account, deviceToken: this.#tokens.issue(phone, account.verifierSalt) };
    } finally {
      for (const [throttle, key] of keys) {
        if (failed === null) throttle.release(key);
        else throttle.settle(key, failed);
      }
      // A store failure here leaves the reservation to expire (RESERVATION_MS).
      await Promise.all(sharedIds.map((id, i) => {
        const [throttle, key] = shared[i]!;
        return failed === null ? throttle.release(key, id) : throttle.settle(key, id, failed);
      })).catch(() => {});
    }
  }

  /**
   * Replaces `phone`'s credentials after re-checking the old auth key, which
   * ends every device token issued before (a new verifier salt: a new token
   * epoch); returns a fresh token for the device that made the change.
   */
  async changePassword(
    phone: string,
    request: ChangePassword,
    address: string,
    deviceToken?: Uint8Array,
  ): Promise<Uint8Array> {
    await this.login(phone, request.oldAuthKey, address, deviceToken);
    const verifierSalt = crypto.getRandomValues(new Uint8Array(VERIFIER_SALT_BYTES));
    await this.#store.updateCredentials(phone, {
      kdfSalt: request.salt,
      kdfParams: request.kdf,
      verifierSalt,
      verifier: verifierOf(request.authKey, verifierSalt),
      keyBackup: request.keyBackup,
    });
    return this.#tokens.issue(phone, verifierSalt);
  }
}
/** Reserves an attempt under every key, or none: throws "rate_limited" with the longest wait. */
function reserveAll(keys: [Throttle, string][]): void {
  let wait = 0;
  const reserved: [Throttle, string][] = [];
  for (const [throttle, key] of keys) {
    const w = throttle.reserve(key);
    if (w > 0) wait = Math.max(wait, w);
    else reserved.push([throttle, key]);
  }
  if (wait === 0) return;
  for (const [throttle, key] of reserved) throttle.release(key);
  throw rateLimited(wait);
}

/** "rate_limited": the address's bucket (`fromAddress` ms to wait) or else the total was empty. */
function registrationsUsedUp(fromAddress: number, total: number): SspError {
  const wait = fromAddress || total;
  const who = fromAddress > 0 ? "from your address" : "on this service";
  return new SspError(
    "rate_limited",
    `too many new accounts ${who}; try again in ${Math.ceil(wait / 1000)} s`,
    { retryAfterMs: wait, hint: "wait and retry, or log in to an existing account" },
  );
}

function authFailed(): AuthError {
  return new AuthError("auth_failed", LOGIN_FAILED, {
    hint: "check the number and password; unknown numbers must register first",
  });
}

function rateLimited(wait: number): AuthError {
  return new AuthError(
    "rate_limited",
    `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`,
    { retryAfterMs: wait, hint: "wait, then log in again from a device that logged in before" },
  );
}

function checkPhone(phone: string): void {
  if (!isE164(phone)) {
    throw new AuthError("invalid_phone", `${phone} is not a valid phone number`, {
      hint: `write it as +<country code><number>, e.g. ${EXAMPLE_PHONE}`,
    });
  }
}
