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
import { fakeSaltFor, verifierOf } from "../e2e/password.ts";
import { AuthError } from "../errors.ts";
import { EXAMPLE_PHONE, isE164 } from "../phone.ts";
import type { ChangePassword, Register } from "../protocol/mod.ts";
import type { AccountRecord, Store } from "../store/types.ts";
import { ACCOUNT_POLICY, ADDRESS_POLICY, Throttle } from "./throttle.ts";

const VERIFIER_SALT_BYTES = 16;
const LOGIN_FAILED = "wrong phone number or password";

/** Server-side account logic over a store. */
export class Accounts {
  readonly #store: Store;
  readonly #secret: Uint8Array;
  readonly #defaultKdf: string;
  readonly #byAccount: Throttle;
  readonly #byAddress: Throttle;
  /** Verified against for unknown numbers, so both paths do the same work. */
  readonly #dummySalt = crypto.getRandomValues(new Uint8Array(VERIFIER_SALT_BYTES));

  /**
   * @param secret server secret for fake salts (stable across restarts)
   * @param defaultKdf KDF parameters handed out with fake salts (what a real account would have)
   */
  constructor(
    store: Store,
    secret: Uint8Array,
    defaultKdf: string,
    throttles: { account?: Throttle; address?: Throttle } = {},
  ) {
    this.#store = store;
    this.#secret = secret;
    this.#defaultKdf = defaultKdf;
    this.#byAccount = throttles.account ?? new Throttle(ACCOUNT_POLICY);
    this.#byAddress = throttles.address ?? new Throttle(ADDRESS_POLICY);
  }

  /** The KDF salt and parameters for `phone` (fake but stable when there is no such account). */
  async prelogin(phone: string): Promise<{ salt: Uint8Array; kdf: string }> {
    const account = await this.#store.getAccount(phone);
    if (account) return { salt: account.kdfSalt, kdf: account.kdfParams };
    return { salt: fakeSaltFor(this.#secret, phone), kdf: this.#defaultKdf };
  }

  /** Creates an account; AuthError "phone_taken" if the number is registered. */
  async register(request: Register): Promise<void> {
    checkPhone(request.phone);
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
   * Checks `authKey` for `phone`; returns the account. Throws AuthError
   * "rate_limited" (with retryAfterMs) while backed off, else "auth_failed"
   * for an unknown number or a wrong key alike.
   */
  async login(phone: string, authKey: Uint8Array, address: string): Promise<AccountRecord> {
    const accountKey = `phone:${phone}`;
    const addressKey = `addr:${address}`;
    const wait = Math.max(
      this.#byAccount.retryAfter(accountKey),
      this.#byAddress.retryAfter(addressKey),
    );
    if (wait > 0) {
      throw new AuthError(
        "rate_limited",
        `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`,
        { retryAfterMs: wait },
      );
    }
    const account = await this.#store.getAccount(phone);
    const salt = account?.verifierSalt ?? this.#dummySalt;
    const expected = account?.verifier ?? new Uint8Array(32);
    const matches = constantTimeEqual(verifierOf(authKey, salt), expected);
    if (!account || !matches) {
      this.#byAccount.failure(accountKey);
      this.#byAddress.failure(addressKey);
      throw new AuthError("auth_failed", LOGIN_FAILED, {
        hint: "check the number and password; unknown numbers must register first",
      });
    }
    this.#byAccount.success(accountKey);
    return account;
  }

  /** Replaces `phone`'s credentials after re-checking the old auth key. */
  async changePassword(phone: string, request: ChangePassword, address: string): Promise<void> {
    await this.login(phone, request.oldAuthKey, address);
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

function checkPhone(phone: string): void {
  if (!isE164(phone)) {
    throw new AuthError("invalid_phone", `${phone} is not a valid phone number`, {
      hint: `write it as +<country code><number>, e.g. ${EXAMPLE_PHONE}`,
    });
  }
}
