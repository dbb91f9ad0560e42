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
import type { AccountRecord, Store } from "../store/types.ts";
import type { DeviceTokens } from "./device_tokens.ts";
import { RateLimiter } from "./rate_limit.ts";
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
   * The per-number budget (NUMBER_POLICY) shared with the other servers on
   * one database (`--mongo`), checked after this server's own.
   */
  sharedNumbers?: SharedThrottle;
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
  /** Failures of each number from its known devices. */
  readonly #byDevice: Throttle;
  readonly #sharedNumbers: SharedThrottle | null;
  readonly #registrationsByAddress: RateLimiter;
  readonly #registrations: RateLimiter;
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
    this.#sharedNumbers = limits.sharedNumbers ?? null;
    this.#registrationsByAddress = new RateLimiter({
      perPeriod: limits.registrationsPerAddress ?? DEFAULT_REGISTRATIONS_PER_ADDRESS,
      periodMs: HOUR_MS,
      maxEntries,
    }, now);
    this.#registrations = new RateLimiter({
      perPeriod: limits.registrationsPerHour ?? DEFAULT_REGISTRATIONS_PER_HOUR,
      periodMs: HOUR_MS,
      maxEntries: 1,
    }, now);
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
    if (fromAddress > 0 || total > 0) {
      const wait = fromAddress || total;
      const who = fromAddress > 0 ? "from your address" : "on this server";
      throw new SspError(
        "rate_limited",
        `too many new accounts ${who}; try again in ${Math.ceil(wait / 1000)} s`,
        { retryAfterMs: wait, hint: "wait and retry, or log in to an existing account" },
      );
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
   * With a valid `deviceToken` (a known device) only the number's
   * known-device back-off applies; otherwise the number's budget and the
   * address's back-off do. The attempt is reserved under those keys before
   * anything is awaited and settled after (§6.8).
   */
  async login(
    phone: string,
    authKey: Uint8Array,
    address: string,
    deviceToken?: Uint8Array,
  ): Promise<LoginResult> {
    const knownDevice = this.#tokens.verify(phone, deviceToken);
    const keys: [Throttle, string][] = knownDevice
      ? [[this.#byDevice, phone]]
      : [[this.#byNumber, phone], [this.#byAddress, address]];
    reserveAll(keys);
    let failed: boolean | null = null; // null: the check did not run (store failure)
    // The number's budget shared with the other servers, after this server's own.
    const shared = knownDevice ? null : this.#sharedNumbers;
    let sharedId = "";
    try {
      if (shared) {
        const { wait, id } = await shared.reserve(phone);
        if (wait > 0) throw rateLimited(wait);
        sharedId = id;
      }
      const account = await this.#store.getAccount(phone);
      const salt = account?.verifierSalt ?? this.#dummySalt;
      const expected = account?.verifier ?? new Uint8Array(32);
      const matches = constantTimeEqual(verifierOf(authKey, salt), expected);
      failed = !account || !matches;
      if (!account || !matches) {
        throw new AuthError("auth_failed", LOGIN_FAILED, {
          hint: "check the number and password; unknown numbers must register first",
        });
      }
      return { account, deviceToken: this.#tokens.issue(phone) };
    } finally {
      for (const [throttle, key] of keys) {
        if (failed === null) throttle.release(key);
        else throttle.settle(key, failed);
      }
      if (shared && sharedId) {
        // A store failure here leaves the reservation to expire (RESERVATION_MS).
        await (failed === null
          ? shared.release(phone, sharedId)
          : shared.settle(phone, sharedId, failed)).catch(() => {});
      }
    }
  }

  /** Replaces `phone`'s credentials after re-checking the old auth key. */
  async changePassword(
    phone: string,
    request: ChangePassword,
    address: string,
    deviceToken?: Uint8Array,
  ): Promise<void> {
    await this.login(phone, request.oldAuthKey, address, deviceToken);
    const verifierSalt = crypto.getRandomValues(new Uint8Array(VERIFIER_SALT_BYTES));
    await this.#store.updateCredentials(phone, {
      kdfSalt: request.salt,
      kdfParams: request.kdf,
      verifierSalt,
      verifier: verifierOf(request.authKey, verifierSalt),
      keyBackup: request.keyBackup,
    });
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
