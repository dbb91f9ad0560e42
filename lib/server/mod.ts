/**
 * The ssp server: sessions, relay, accounts, files, limits.
 *
 * @module
 */
// Re-exports: one line for each public file of this area (`_x.ts` files are private).
export * from "./accounts.ts";
export * from "./bounded_table.ts";
export * from "./device_tokens.ts";
export * from "./dh_budget.ts";
export * from "./dhparam_file.ts";
export * from "./files.ts";
export * from "./groups.ts";
export * from "./identity.ts";
export * from "./idle_sweep.ts";
export * from "./key_batches.ts";
export * from "./log.ts";
export * from "./mailbox_pump.ts";
export * from "./message_quota.ts";
export * from "./online.ts";
export * from "./rate_limit.ts";
export * from "./relay.ts";
export * from "./server.ts";
export * from "./send_pipeline.ts";
export * from "./session.ts";
export * from "./shared_registrations.ts";
export * from "./shared_throttle.ts";
export * from "./signals.ts";
export * from "./slots.ts";
export * from "./stores.ts";
export * from "./throttle.ts";
export * from "./upload_claims.ts";
