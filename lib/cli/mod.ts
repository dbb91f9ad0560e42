/**
 * The client program's commands: flags, prompts, the interactive chat and their output.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./account_options.ts";
export * from "./chat.ts";
export * from "./chat_commands.ts";
export * from "./commands.ts";
export * from "./file_commands.ts";
export * from "./format.ts";
export * from "./interactive.ts";
export * from "./passwords.ts";
export * from "./reconnect.ts";
export * from "./suggest.ts";
