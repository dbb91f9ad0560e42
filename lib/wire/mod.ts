/**
 * The wire format, pure and without I/O: frames, the MessagePack codec and the record layer.
 *
 * @module
 */
// Re-exports kept by scripts/layout.ts: it adds a line for each new public file.
export * from "./codec.ts";
export * from "./frames.ts";
export * from "./record.ts";
