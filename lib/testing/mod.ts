/**
 * Helpers for tests: byte sources, polling, the worked example, dumps, raw
 * registrations.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./byte_source.ts";
export * from "./msgpack_dump.ts";
export * from "./mutate.ts";
export * from "./pseudo_random.ts";
export * from "./records.ts";
export * from "./registrations.ts";
export * from "./until.ts";
export * from "./worked_example.ts";
