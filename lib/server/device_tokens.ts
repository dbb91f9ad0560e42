/**
 * Device tokens (docs/protocol.md §6.9): a credential the server hands a
 * client with every successful login, which that client sends with its later
 * logins to the same number. A valid token marks the attempt as coming from
 * a known device, which the per-number budget does not slow down: a guesser
 * can then lock out new devices of a number, never the owner's own.
 *
 * Tokens are stateless: 16 random bytes `nonce` followed by the first 16
 * bytes of HMAC-SHA-256(tokenKey, "ssp/1 device token\0" || phone || "\0" ||
 * nonce), so checking one needs no store access and can happen before the
 * attempt is reserved. `tokenKey` is derived from the server's identity key.
 *
 * @module
 */
import { concatBytes, constantTimeEqual, utf8 } from "../bytes.ts";
import { hmacSha256 } from "../crypto/mod.ts";
import { DEVICE_TOKEN_BYTES } from "../protocol/mod.ts";

const NONCE_BYTES = 16;

/** Issues and checks device tokens under one key. */
export class DeviceTokens {
  readonly #key: Uint8Array;

  /** @param key at least 32 secret bytes, stable across restarts */
  constructor(key: Uint8Array) {
    if (key.length < 32) throw new RangeError("the device token key must be at least 32 bytes");
    this.#key = key;
  }

  /** A fresh token for `phone`. */
  issue(phone: string): Uint8Array {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    return concatBytes(nonce, this.#tag(phone, nonce));
  }

  /** Whether `token` was issued by this server for `phone` (constant time in the tag). */
  verify(phone: string, token: Uint8Array | undefined): boolean {
    if (token?.length !== DEVICE_TOKEN_BYTES) return false;
    const nonce = token.subarray(0, NONCE_BYTES);
    return constantTimeEqual(token.subarray(NONCE_BYTES), this.#tag(phone, nonce));
  }

  #tag(phone: string, nonce: Uint8Array): Uint8Array {
    const data = concatBytes(utf8(`ssp/1 device token\0${phone}\0`), nonce);
    return hmacSha256(this.#key, data).slice(0, DEVICE_TOKEN_BYTES - NONCE_BYTES);
  }
}
