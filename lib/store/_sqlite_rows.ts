/**
 * Rows of the SQLite schema (`_schema.ts`) as the Store's records and back:
 * shared by the store and by the migration's reader and writer.
 *
 * @module
 */
import type { SQLInputValue } from "node:sqlite";
import type { AccountRecord, StoredEnvelope } from "./types.ts";

/** A row as node:sqlite returns it. */
export type Row = Record<string, SQLInputValue>;

/** An account's values in the column order of the accounts table (for `INSERT ... VALUES`). */
export function accountValues(a: AccountRecord): SQLInputValue[] {
  return [
    a.phone,
    a.kdfSalt,
    a.kdfParams,
    a.verifierSalt,
    a.verifier,
    a.encryptionKey,
    a.signingKey,
    a.keyBackup,
    a.createdAt,
  ];
}

/** An `accounts` row as an AccountRecord. */
export function toAccount(row: Row): AccountRecord {
  return {
    phone: row.phone as string,
    kdfSalt: row.kdf_salt as Uint8Array,
    kdfParams: row.kdf_params as string,
    verifierSalt: row.verifier_salt as Uint8Array,
    verifier: row.verifier as Uint8Array,
    encryptionKey: row.encryption_key as Uint8Array,
    signingKey: row.signing_key as Uint8Array,
    keyBackup: row.key_backup as Uint8Array,
    createdAt: row.created_at as number,
  };
}

/** An `envelopes` row as a StoredEnvelope. */
export function toEnvelope(row: Row): StoredEnvelope {
  return {
    seq: row.seq as number,
    sender: row.sender as string,
    clientId: row.client_id as string,
    recipients: JSON.parse(row.recipients as string) as string[],
    conversation: row.conversation as string,
    body: row.body as Uint8Array,
    storedAt: row.stored_at as number,
  };
}
