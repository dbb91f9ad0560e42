/**
 * How MongoStore lays out its documents, shared by the store and the
 * migration: encoders that build them and decoders that check every field.
 *
 * @module
 */
import { Binary, type Document } from "mongodb";
import { StorageError } from "../errors.ts";
import type { AccountRecord, NewEnvelope, StoredEnvelope } from "./types.ts";

/** A document whose `_id` has type K (the phone number or the seq). */
export type Keyed<K> = Document & { _id: K };

/** The document of an envelope: `_id` is its seq, recipients are an array inside it. */
export function toDocument(e: NewEnvelope, seq: number, storedAt: number): Keyed<number> {
  return {
    _id: seq,
    sender: e.sender,
    clientId: e.clientId,
    recipients: e.recipients,
    conversation: e.conversation,
    body: e.body,
    // The body's length, so a sender's stored bytes can be summed without
    // reading the bodies (FerretDB has no $binarySize).
    bodyBytes: e.body.length,
    storedAt,
  };
}

/**
 * Decodes an envelope document.
 *
 * @throws {StorageError} if a field is missing or has the wrong type.
 */
export function toEnvelope(doc: Document): StoredEnvelope {
  const recipients = doc.recipients;
  if (!Array.isArray(recipients) || !recipients.every((r) => typeof r === "string")) {
    throw corrupt("recipients");
  }
  return {
    seq: seqOf(doc, "_id"),
    sender: text(doc, "sender"),
    clientId: text(doc, "clientId"),
    recipients: recipients as string[],
    conversation: text(doc, "conversation"),
    body: bytes(doc, "body"),
    storedAt: seqOf(doc, "storedAt"),
  };
}

/** The document of an account: `_id` is the phone number. */
export function toAccountDocument(account: AccountRecord): Keyed<string> {
  const { phone, ...rest } = account;
  return { _id: phone, ...rest };
}

/**
 * Decodes an account document.
 *
 * @throws {StorageError} if a field is missing or has the wrong type.
 */
export function toAccount(doc: Document): AccountRecord {
  return {
    phone: text(doc, "_id"),
    kdfSalt: bytes(doc, "kdfSalt"),
    kdfParams: text(doc, "kdfParams"),
    verifierSalt: bytes(doc, "verifierSalt"),
    verifier: bytes(doc, "verifier"),
    encryptionKey: bytes(doc, "encryptionKey"),
    signingKey: bytes(doc, "signingKey"),
    keyBackup: bytes(doc, "keyBackup"),
    createdAt: seqOf(doc, "createdAt"),
  };
}

/** A string field, or a StorageError. */
export function text(doc: Document, field: string): string {
  const value = doc[field];
  if (typeof value !== "string") throw corrupt(field);
  return value;
}

/** A safe-integer field (seqs, timestamps), or a StorageError. */
export function seqOf(doc: Document, field: string): number {
  const value = doc[field];
  if (!Number.isSafeInteger(value)) throw corrupt(field);
  return value as number;
}

/** A plain Uint8Array copy of a binary field: the driver returns bytes as BSON Binary. */
export function bytes(doc: Document, field: string): Uint8Array {
  const value = doc[field];
  if (!(value instanceof Binary)) throw corrupt(field);
  return Uint8Array.from(value.buffer.subarray(0, value.length()));
}

function corrupt(field: string): StorageError {
  return new StorageError("storage_failed", `Malformed document in MongoDB: bad field ${field}`, {
    hint: "the database holds data ssp did not write; check --mongo points at ssp's database",
  });
}
