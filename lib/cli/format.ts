/**
 * How messages and contacts look, as text for people and as JSON objects
 * for scripts.
 *
 * @module
 */
import type { Incoming, ReceivedMessage } from "../client/messenger.ts";
import type { Contact } from "../client/state.ts";
import { fingerprint } from "../sign.ts";
import { formatBytes } from "../ui/progress.ts";

/** A message as a JSON object (`--json`, `listen`). */
export function messageJson(message: ReceivedMessage): Record<string, unknown> {
  return {
    type: "message",
    seq: message.seq,
    id: message.id,
    from: message.from,
    to: message.to,
    with: message.with,
    timestamp: message.timestamp,
    storedAt: message.storedAt,
    verified: message.verified,
    ...withoutKey(message.content),
  };
}

/** A rejected envelope as a JSON object. */
export function rejectedJson(
  incoming: Extract<Incoming, { rejected: unknown }>,
): Record<string, unknown> {
  const { seq, from, error } = incoming.rejected;
  return { type: "rejected", seq, from, code: error.code, error: error.message };
}

/** One line for people: time, sender, text (or receipt), and a warning when unverified. */
export function messageLine(message: ReceivedMessage, me: string): string {
  const time = new Date(message.timestamp).toISOString().slice(11, 16);
  const who = message.from === me ? "you" : message.from;
  const where = message.with.length > 1 ? ` [${message.with.join(", ")}]` : "";
  const warning = message.verified
    ? ""
    : "  ⚠ UNVERIFIED: sender's key changed (ssp-client verify)";
  const content = message.content;
  switch (content.kind) {
    case "text":
      return `${time} ${who}${where}: ${content.text}${warning}`;
    case "receipt":
      return `${time} ${who} ${content.receipt} ${content.ids.length} message(s)${warning}`;
    case "file":
      return `${time} ${who}${where}: 📎 ${content.name} (${
        formatBytes(content.size)
      }) — fetch with /get ${content.fileId.slice(0, 8)}${warning}`;
    default:
      return `${time} ${who}${where}: (${(content as { kind: string }).kind})${warning}`;
  }
}

/** A contact as a JSON object. */
export function contactJson(contact: Contact): Record<string, unknown> {
  return {
    phone: contact.phone,
    status: contact.status,
    signingKey: fingerprint(contact.signingKey),
    pinnedAt: new Date(contact.pinnedAt).toISOString(),
    ...(contact.pendingSigningKey ? { newSigningKey: fingerprint(contact.pendingSigningKey) } : {}),
  };
}

/** A contact as a line for people. */
export function contactLine(contact: Contact): string {
  const status = contact.status === "trusted" ? "trusted" : "KEY CHANGED — verify before trusting";
  return `${contact.phone}  ${fingerprint(contact.signingKey)}  ${status}`;
}

/** Content for JSON output: a file's key is never printed. */
function withoutKey(content: ReceivedMessage["content"]): Record<string, unknown> {
  if (content.kind !== "file") return content;
  const { key: _key, ...rest } = content;
  return rest;
}
