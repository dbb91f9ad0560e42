/**
 * The ssp client: connection, session, messenger, files and the commands.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
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
