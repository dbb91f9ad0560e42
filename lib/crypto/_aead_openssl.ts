/**
 * The AEAD primitives of the system's OpenSSL libcrypto 3, through Deno's FFI
 * (`Deno.dlopen`) and the EVP_CIPHER_CTX API. Private to `aead_backend.ts`,
 * which checks every length and every buffer before calling in here: this
 * file trusts its arguments, because a wrong length handed to C reads or
 * writes out of bounds.
 *
 * Data moves without copies: OpenSSL reads the caller's input arrays and
 * writes straight into the caller's output arrays (in place when they are the
 * same array). One context per suite and direction is created at load time and
 * re-initialised with the key and nonce of each call; every FFI call is
 * synchronous, so no two calls can interleave on a context within an isolate,
 * and each Worker loads its own copy of this module.
 *
 * @module
 */
import type { AeadPrimitive, AeadSuite } from "./_aead_types.ts";

const SYMBOLS = {
  OpenSSL_version: { parameters: ["i32"], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  // (ctx, cipher, engine, key, iv, enc)
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // (ctx, out, &outl, in, inl): out = NULL feeds associated data
  EVP_CipherUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // (ctx, out, &outl): for decryption, 1 only if the tag verified
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  // (ctx, type, arg, ptr)
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** From openssl/evp.h and openssl/crypto.h. */
const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;
const OPENSSL_VERSION = 0;
const OPENSSL_CPU_INFO = 9;
const TAG_BYTES = 16;

/** What loading libcrypto found. */
export interface OpensslAead {
  primitive: AeadPrimitive;
  /** OpenSSL's version text, e.g. "OpenSSL 3.0.19 27 Jan 2026". */
  version: string;
  /** Whether OpenSSL's AES-GCM runs on AES and carry-less multiply instructions. */
  hardwareAes: boolean;
}

/**
 * Opens `path` (a file name the dynamic loader resolves, or an absolute path)
 * and prepares the contexts.
 *
 * @throws {Error} If the library cannot be opened, lacks a symbol, is not
 *   OpenSSL 3 or later, or a context cannot be created. The caller needs
 *   `--allow-ffi` for `path`.
 */
export function loadOpensslAead(path: string): OpensslAead {
  const lib = Deno.dlopen(path, SYMBOLS);
  const s = lib.symbols;
  const version = cString(s.OpenSSL_version(OPENSSL_VERSION));
  if (!/^OpenSSL [3-9]\./.test(version)) {
    lib.close();
    throw new Error(`${path} is ${version || "not OpenSSL"}, not OpenSSL 3 or later`);
  }
  const ciphers: Record<AeadSuite, Deno.PointerValue> = {
    "chacha20-poly1305": s.EVP_chacha20_poly1305(),
    "aes-256-gcm": s.EVP_aes_256_gcm(),
  };
  const newContext = (suite: AeadSuite, enc: 0 | 1): Deno.PointerObject => {
    const ctx = s.EVP_CIPHER_CTX_new();
    if (ctx === null || s.EVP_CipherInit_ex(ctx, ciphers[suite], null, null, null, enc) !== 1) {
      throw new Error(`OpenSSL could not set up ${suite}`);
    }
    return ctx;
  };
  const contexts: Record<AeadSuite, [Deno.PointerObject, Deno.PointerObject]> = {
    "chacha20-poly1305": [newContext("chacha20-poly1305", 0), newContext("chacha20-poly1305", 1)],
    "aes-256-gcm": [newContext("aes-256-gcm", 0), newContext("aes-256-gcm", 1)],
  };
  const outLength = new Int32Array(1);
  const scratch = new Uint8Array(32); // EVP_CipherFinal_ex writes nothing for these modes

  /** Starts a message: key, nonce and associated data. */
  const start = (
    suite: AeadSuite,
    enc: 0 | 1,
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
  ): Deno.PointerObject => {
    const ctx = contexts[suite][enc];
    if (s.EVP_CipherInit_ex(ctx, null, null, key, nonce, enc) !== 1) internal("init");
    if (aad.length > 0 && s.EVP_CipherUpdate(ctx, null, outLength, aad, aad.length) !== 1) {
      internal("associated data");
    }
    return ctx;
  };
  const update = (
    ctx: Deno.PointerObject,
    inputs: readonly Uint8Array[],
    outputs: readonly Uint8Array[],
  ): void => {
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      if (input.length === 0) continue;
      if (
        s.EVP_CipherUpdate(ctx, outputs[i]!, outLength, input, input.length) !== 1 ||
        outLength[0] !== input.length
      ) {
        internal("update");
      }
    }
  };

  const primitive: AeadPrimitive = {
    seal(suite, key, nonce, aad, plaintext, ciphertext, tag) {
      const ctx = start(suite, 1, key, nonce, aad);
      update(ctx, plaintext, ciphertext);
      if (s.EVP_CipherFinal_ex(ctx, scratch, outLength) !== 1 || outLength[0] !== 0) {
        internal("final");
      }
      if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, tag) !== 1) {
        internal("tag");
      }
    },
    open(suite, key, nonce, aad, ciphertext, tag, plaintext) {
      const ctx = start(suite, 0, key, nonce, aad);
      if (s.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, tag) !== 1) {
        internal("tag");
      }
      update(ctx, ciphertext, plaintext);
      return s.EVP_CipherFinal_ex(ctx, scratch, outLength) === 1;
    },
  };
  return {
    primitive,
    version,
    hardwareAes: hardwareAes(cString(s.OpenSSL_version(OPENSSL_CPU_INFO))),
  };
}

/**
 * Reads OpenSSL's own CPU capability word ("CPUINFO: OPENSSL_ia32cap=0x…:0x…"
 * on x86, "OPENSSL_armcap=0x…" on ARM), so the answer is what OpenSSL's
 * AES-GCM will actually use (an `OPENSSL_ia32cap` override included).
 *
 * x86: AES-NI is CPUID.1:ECX bit 25 and PCLMULQDQ bit 1, i.e. bits 57 and 33
 * of the first word. ARMv8: ARMV8_AES is bit 2 and ARMV8_PMULL bit 5.
 */
export function hardwareAes(cpuInfo: string): boolean {
  const x86 = /OPENSSL_ia32cap=0x([0-9a-f]+)/i.exec(cpuInfo);
  if (x86) {
    const word = BigInt(`0x${x86[1]}`);
    return ((word >> 57n) & 1n) === 1n && ((word >> 33n) & 1n) === 1n;
  }
  const arm = /OPENSSL_armcap=0x([0-9a-f]+)/i.exec(cpuInfo);
  if (arm) {
    const word = BigInt(`0x${arm[1]}`);
    return ((word >> 2n) & 1n) === 1n && ((word >> 5n) & 1n) === 1n;
  }
  return false;
}

function cString(pointer: Deno.PointerValue): string {
  return pointer === null ? "" : Deno.UnsafePointerView.getCString(pointer);
}

function internal(step: string): never {
  throw new Error(`OpenSSL failed at ${step}`);
}
