/**
 * A man-in-the-middle for tests: a TCP proxy that forwards whole frames
 * between a client and a server and lets the test rewrite any of them.
 *
 * @module
 */
import { encodeFrame, FrameReader, writeAll } from "../lib/wire/mod.ts";

/** Which way a frame is travelling. */
export type Direction = "to_server" | "to_client";

/** Rewrites the `index`-th frame (0-based, per direction); returns the body to forward. */
export type FrameRewrite = (
  direction: Direction,
  index: number,
  body: Uint8Array,
) => Uint8Array | Promise<Uint8Array>;

/** A running proxy. */
export interface FrameProxy {
  port: number;
  close(): void;
}

/** Listens on 127.0.0.1 and relays every connection to `upstreamPort`. */
export function startFrameProxy(upstreamPort: number, rewrite: FrameRewrite): FrameProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
      conns.add(client);
      conns.add(server);
      const pump = async (from: Deno.Conn, to: Deno.Conn, direction: Direction) => {
        const reader = new FrameReader(from, 16 * 1024 * 1024);
        try {
          for (let i = 0;; i++) {
            const frame = await reader.read();
            if (frame === null) break;
            await writeAll(to, encodeFrame(await rewrite(direction, i, frame.body)));
          }
        } catch { /* either side went away */ }
        try {
          from.close();
        } catch { /* closed */ }
        try {
          to.close();
        } catch { /* closed */ }
      };
      pump(client, server, "to_server");
      pump(server, client, "to_client");
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}
