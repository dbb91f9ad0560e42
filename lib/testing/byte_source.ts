/**
 * In-memory byte sources for codec tests: serve fixed bytes in chosen chunk
 * sizes (one byte at a time, random splits), then end of stream.
 *
 * @module
 */
import type { ByteSource } from "../wire/mod.ts";

/** A source that serves `bytes` in reads of at most `chunkSizes[i]` bytes (cycled). */
export function chunkedSource(bytes: Uint8Array, chunkSizes: readonly number[] = [1]): ByteSource {
  let offset = 0;
  let turn = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (offset >= bytes.length) return Promise.resolve(null);
      const size = Math.max(1, chunkSizes[turn++ % chunkSizes.length] ?? 1);
      const n = Math.min(size, p.length, bytes.length - offset);
      p.set(bytes.subarray(offset, offset + n));
      offset += n;
      return Promise.resolve(n);
    },
  };
}

/** A source that serves `bytes` and then never answers again (a silent peer). */
export function stallingSource(bytes: Uint8Array): ByteSource {
  const inner = chunkedSource(bytes, [bytes.length || 1]);
  let served = false;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (served) return new Promise(() => {});
      served = true;
      return inner.read(p);
    },
  };
}
