/**
 * Terminal output, prompts, progress and flags, shared by both programs.
 *
 * @module
 */
// Re-exports kept by scripts/layout.ts: it adds a line for each new public file.
export * from "./flags.ts";
export * from "./lines.ts";
export * from "./output.ts";
export * from "./progress.ts";
export * from "./prompt.ts";
export * from "./sanitize.ts";
export * from "./screen.ts";
