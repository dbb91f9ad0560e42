/**
 * The ssp client: connection, session, messenger, files and the commands.
 *
 * @module
 */
// Re-exports kept by scripts/layout.ts: it adds a line for each new public file.
export * from "./account.ts";
export * from "./chat_book.ts";
export * from "./connect.ts";
export * from "./files.ts";
export * from "./known_hosts.ts";
export * from "./messenger.ts";
export * from "./paths.ts";
export * from "./ping.ts";
export * from "./rpc.ts";
export * from "./session.ts";
export * from "./state.ts";
