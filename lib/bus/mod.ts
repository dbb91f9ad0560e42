/**
 * The message bus between server instances (NATS): signals and presence.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./nats.ts";
