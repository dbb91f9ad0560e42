/**
 * Terminal output, prompts, progress and flags, shared by both programs.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./flags.ts";
export * from "./lines.ts";
export * from "./output.ts";
export * from "./progress.ts";
export * from "./prompt.ts";
export * from "./sanitize.ts";
export * from "./screen.ts";
