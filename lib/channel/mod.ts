/**
 * The secure channel driver: the handshake over a socket, then sealed records.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./channel.ts";
