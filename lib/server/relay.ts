/**
 * Accepting an envelope from a logged-in sender: check it against the
 * request, store it durably, then push it to the recipients who are online.
 * Used for messages and for the envelopes that announce files.
 *
 * @module
 */
import { parseEnvelope } from "../e2e/mod.ts";
import { ProtocolError, SspError, StorageError } from "../errors.ts";
import type { AppendResult, NewEnvelope, Store, StoredEnvelope } from "../store/types.ts";
import type { MessageQuota } from "./message_quota.ts";
import type { OnlineUsers } from "./online.ts";

/** What relaying needs from the server. */
export interface RelayContext {
  store: Store;
  online: OnlineUsers;
  maxEnvelopeBytes: number;
  /**
   * Accounts known to exist. Accounts are never deleted, so a positive answer
   * stays true; remembering it saves a store query per message (a network
   * round trip with MongoDB).
   */
  knownAccounts: Set<string>;
  /** Bytes of envelopes each account may store. */
  messageQuota: MessageQuota;
}

/**
 * Checks an envelope `phone` wants to send to `to` under `messageId`:
 * size, that its signed header names the same sender, id and recipients
 * (so the store's metadata matches what recipients will verify), and that
 * every recipient has an account. Returns what to store.
 */
export async function checkEnvelope(
  context: RelayContext,
  phone: string,
  messageId: string,
  to: readonly string[],
  envelope: Uint8Array,
): Promise<NewEnvelope> {
  if (envelope.length > context.maxEnvelopeBytes) {
    throw new ProtocolError(
      "message_too_large",
      `message of ${envelope.length} bytes exceeds the server's limit of ${context.maxEnvelopeBytes}`,
    );
  }
  const parsed = parseEnvelope(envelope, { maxBytes: context.maxEnvelopeBytes });
  const recipients = [...new Set(to)].sort();
  if (parsed.from !== phone || parsed.id !== messageId || !sameSet(parsed.to, recipients)) {
    throw new ProtocolError(
      "envelope_mismatch",
      "the envelope's sender, id or recipients do not match the request",
    );
  }
  const unchecked = recipients.filter((p) => !context.knownAccounts.has(p));
  const known = unchecked.length ? await context.store.getPublicKeys(unchecked) : [];
  for (const { phone } of known) rememberAccount(context.knownAccounts, phone);
  if (known.length !== unchecked.length) {
    const missing = unchecked.filter((p) => !known.some((k) => k.phone === p));
    const shown = missing.slice(0, 5).join(", ") +
      (missing.length > 5 ? ` and ${missing.length - 5} more` : "");
    throw new SspError("unknown_recipient", `not registered: ${shown}`, {
      hint: "check the number; they must register with ssp first",
    });
  }
  return {
    sender: phone,
    clientId: messageId,
    recipients,
    conversation: conversationKey(phone, recipients),
    body: envelope,
  };
}

/** Most accounts remembered as existing; the oldest are forgotten first. */
const MAX_KNOWN_ACCOUNTS = 100_000;

function rememberAccount(known: Set<string>, phone: string): void {
  known.add(phone);
  if (known.size > MAX_KNOWN_ACCOUNTS) known.delete(known.values().next().value!);
}

/**
 * Stores a checked envelope (group commit) within its sender's message quota
 * and, once durable, pushes it to online recipients.
 */
export async function storeAndDeliver(
  context: RelayContext,
  envelope: NewEnvelope,
): Promise<AppendResult> {
  const settle = await context.messageQuota.reserve(envelope.sender, envelope.body.length);
  let stored = false;
  let result: AppendResult | undefined;
  try {
    [result] = await context.store.appendEnvelopes([envelope]);
    stored = result !== undefined && !result.duplicate;
  } finally {
    settle(stored);
  }
  if (!result) throw new StorageError("storage_failed", "store returned no result");
  if (!result.duplicate) {
    // The stored time, not the time of this push: `history` must show the same one.
    const item: StoredEnvelope = { ...envelope, seq: result.seq, storedAt: result.storedAt };
    for (const recipient of envelope.recipients) context.online.deliver(recipient, item);
  }
  return result;
}

/** The store's key for a conversation: the sorted, comma-joined member numbers. */
export function conversationKey(me: string, others: readonly string[]): string {
  return [...new Set([me, ...others])].sort().join(",");
}

function sameSet(a: readonly string[], sortedB: readonly string[]): boolean {
  const sa = [...new Set(a)].sort();
  return sa.length === sortedB.length && sa.every((x, i) => x === sortedB[i]);
}
