/**
 * Device tokens (docs/protocol.md §6.9): a credential the server hands a
 * client with every successful login, which that client sends with its later
 * logins to the same number. A valid token marks the attempt as coming from
 * a known device, which the per-number budget does not slow down: a guesser
 * can then lock out new devices of a number, never the owner's own.
 *
 * A token is `nonce ‖ epoch ‖ tag`: 8 random bytes, the account's **token
 * epoch** (8 bytes) and the first 16 bytes of HMAC-SHA-256(tokenKey,
 * "ssp/1 device token\0" || phone || "\0" || epoch || nonce). The epoch is
 * HMAC-SHA-256(tokenKey, "ssp/1 device token epoch\0" || verifierSalt),
 * first 8 bytes: a password change draws a fresh verifier salt, so it
 * changes the epoch and every token issued before stops being current —
 * revocation without a list of tokens or a new stored field, the same on
 * every store and every server that shares the token key. The tag is checked
 * without the store (before the attempt is reserved); whether its epoch is
 * current needs the account, which the login reads anyway. `tokenKey` is
 * derived from the server's identity key.
 *
 * @module
 */
import { concatBytes, constantTimeEqual, toHex, utf8 } from "../bytes.ts";
import { hmacSha256 } from "../crypto/mod.ts";
import { DEVICE_TOKEN_BYTES } from "../protocol/mod.ts";

const NONCE_BYTES = 8;
const EPOCH_BYTES = 8;
const TAG_OFFSET = NONCE_BYTES + EPOCH_BYTES;

/** Issues and checks device tokens under one key. */
export class DeviceTokens {
  readonly #key: Uint8Array;

  /** @param key at least 32 secret bytes, stable across restarts */
  constructor(key: Uint8Array) {
    if (key.length < 32) throw new RangeError("the device token key must be at least 32 bytes");
    this.#key = key;
  }

  /** A fresh token for `phone`, whose account has `verifierSalt` (its current epoch). */
  issue(phone: string, verifierSalt: Uint8Array): Uint8Array {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const epoch = this.#epochOf(verifierSalt);
    return concatBytes(nonce, epoch, this.#tag(phone, epoch, nonce));
  }

  /**
   * The epoch (hex) of `token` if this server issued it for `phone` (the tag
   * compared in constant time), else null. Whether the epoch is still the
   * account's: {@linkcode DeviceTokens.isCurrent}.
   */
  epochIn(phone: string, token: Uint8Array | undefined): string | null {
    if (token?.length !== DEVICE_TOKEN_BYTES) return null;
    const nonce = token.subarray(0, NONCE_BYTES);
    const epoch = token.subarray(NONCE_BYTES, TAG_OFFSET);
    const valid = constantTimeEqual(token.subarray(TAG_OFFSET), this.#tag(phone, epoch, nonce));
    return valid ? toHex(epoch) : null;
  }

  /** Whether `epoch` (from {@linkcode DeviceTokens.epochIn}) is that of an account with `verifierSalt`. */
  isCurrent(epoch: string, verifierSalt: Uint8Array): boolean {
    return epoch === toHex(this.#epochOf(verifierSalt));
  }

  #epochOf(verifierSalt: Uint8Array): Uint8Array {
    const data = concatBytes(utf8("ssp/1 device token epoch\0"), verifierSalt);
    return hmacSha256(this.#key, data).slice(0, EPOCH_BYTES);
  }

  #tag(phone: string, epoch: Uint8Array, nonce: Uint8Array): Uint8Array {
    const data = concatBytes(utf8(`ssp/1 device token\0${phone}\0`), epoch, nonce);
    return hmacSha256(this.#key, data).slice(0, DEVICE_TOKEN_BYTES - TAG_OFFSET);
  }
}
