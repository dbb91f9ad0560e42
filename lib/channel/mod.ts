/**
 * The secure channel driver: the handshake over a socket, then sealed records.
 *
 * @module
 */
// Re-exports kept by scripts/layout.ts: it adds a line for each new public file.
export * from "./channel.ts";
