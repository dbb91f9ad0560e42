/**
 * The wire format, pure and without I/O: frames, the MessagePack codec and the record layer.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./codec.ts";
export * from "./frames.ts";
export * from "./record.ts";
