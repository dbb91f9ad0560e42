/**
 * The message bus between server instances (NATS): signals and presence.
 *
 * @module
 */
// Re-exports kept by scripts/layout.ts: it adds a line for each new public file.
export * from "./nats.ts";
