/**
 * The AEAD primitives of `node:crypto`: the fallback where libcrypto cannot
 * be loaded. Private to `aead_backend.ts`. node returns fresh buffers, so
 * each piece is copied into the caller's output.
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { AeadPrimitive } from "./_aead_types.ts";

const TAG_BYTES = 16;

function total(parts: readonly Uint8Array[]): number {
  return parts.reduce((sum, part) => sum + part.length, 0);
}

/** node:crypto's ChaCha20-Poly1305 and AES-256-GCM. */
export const nodeAead: AeadPrimitive = {
  seal(suite, key, nonce, aad, plaintext, ciphertext, tag) {
    const cipher = suite === "aes-256-gcm"
      ? createCipheriv(suite, key, nonce, { authTagLength: TAG_BYTES }).setAAD(aad)
      : createCipheriv(suite, key, nonce, { authTagLength: TAG_BYTES })
        .setAAD(aad, { plaintextLength: total(plaintext) });
    for (let i = 0; i < plaintext.length; i++) ciphertext[i]!.set(cipher.update(plaintext[i]!));
    if (cipher.final().length !== 0) throw new Error("node:crypto returned bytes at final()");
    tag.set(cipher.getAuthTag());
  },
  open(suite, key, nonce, aad, ciphertext, tag, plaintext) {
    // node wants the message length up front only for ChaCha20-Poly1305.
    const decipher = suite === "aes-256-gcm"
      ? createDecipheriv(suite, key, nonce, { authTagLength: TAG_BYTES }).setAuthTag(tag)
        .setAAD(aad)
      : createDecipheriv(suite, key, nonce, { authTagLength: TAG_BYTES }).setAuthTag(tag)
        .setAAD(aad, { plaintextLength: total(ciphertext) });
    for (let i = 0; i < ciphertext.length; i++) {
      const piece = decipher.update(ciphertext[i]!);
      plaintext[i]!.set(piece);
      piece.fill(0);
    }
    try {
      return decipher.final().length === 0;
    } catch {
      return false;
    }
  },
};
