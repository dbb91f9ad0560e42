/**
 * How messages, files and contacts look: as text for people (local time,
 * names instead of numbers, receipts as marks, every peer-chosen string made
 * safe for a terminal) and as JSON objects for scripts (exact).
 *
 * @module
 */
import type { Contact, FileEntry, Incoming, ReceivedMessage } from "../client/mod.ts";
import { fingerprint } from "../crypto/mod.ts";
import { formatBytes, safeLines, safeText } from "../ui/mod.ts";

/** How a phone number is shown: a local name if the user gave one, else the number. */
export type NameOf = (phone: string) => string;

/** Shows numbers as they are. */
export const numbersOnly: NameOf = (phone) => phone;

/** The state of a message I sent, from the receipts seen for it. */
export type Mark = "sent" | "delivered" | "read";

/** How each {@linkcode Mark} is shown after the message. */
export const MARK_TEXT: Readonly<Record<Mark, string>> = {
  sent: "✓",
  delivered: "✓✓",
  read: "✓✓ read",
};

/** Where a message line is shown, and what to add to it. */
export interface LineView {
  /** My own number ("you"). */
  me: string;
  /** Display names; numbers by default. */
  nameOf?: NameOf;
  /** A mark for a message I sent. */
  mark?: Mark;
  /** Shown before the line, e.g. for a message outside the open conversation. */
  prefix?: string;
}

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

/** A refused envelope as a JSON object. */
export function rejectedJson(
  incoming: Extract<Incoming, { rejected: unknown }>,
): Record<string, unknown> {
  const { seq, from, error } = incoming.rejected;
  return { type: "rejected", seq, from, code: error.code, error: error.message };
}

/** A refused envelope as a line for people. */
export function rejectedLine(
  incoming: Extract<Incoming, { rejected: unknown }>,
  nameOf: NameOf = numbersOnly,
): string {
  const { seq, from, error } = incoming.rejected;
  const who = from === undefined ? "?" : safeText(nameOf(from));
  return `⚠ refused a message (seq ${seq}) from ${who}: ${safeText(error.message)}`;
}

/** "14:05": hours and minutes in local time (the `TZ` environment variable). */
export function timeOfDay(ms: number): string {
  const date = new Date(ms);
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** "Tuesday 2026-12-01": the local day, for a line shown when the day changes. */
export function dayOf(ms: number): string {
  const date = new Date(ms);
  const weekday = WEEKDAYS[date.getDay()];
  return `${weekday} ${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Remembers the last day shown, so a date line appears whenever the day changes. */
export class DayLines {
  #last = "";

  /** "── Tuesday 2026-12-01 ──" if `ms` falls on another day than the previous call. */
  next(ms: number): string | undefined {
    const day = dayOf(ms);
    if (day === this.#last) return undefined;
    this.#last = day;
    return `── ${day} ──`;
  }
}

/**
 * One message for people: local time, sender, the text (its later lines
 * indented), a mark for my own messages, and a warning when unverified.
 */
export function messageLine(message: ReceivedMessage, view: LineView): string {
  const nameOf = view.nameOf ?? numbersOnly;
  const time = timeOfDay(message.timestamp);
  const who = message.from === view.me ? "you" : safeText(nameOf(message.from));
  const where = message.with.length > 1
    ? ` [${message.with.map((p) => safeText(nameOf(p))).join(", ")}]`
    : "";
  const mark = view.mark ? `  ${MARK_TEXT[view.mark]}` : "";
  const warning = message.verified
    ? ""
    : "  ⚠ UNVERIFIED: sender's key changed (ssp-client verify)";
  const head = `${view.prefix ?? ""}${time} ${who}${where}`;
  const content = message.content;
  switch (content.kind) {
    case "text":
      return `${head}: ${safeLines(content.text, INDENT)}${mark}${warning}`;
    case "receipt":
      return `${head} ${content.receipt} ${content.ids.length} message(s)${warning}`;
    case "file":
      return `${head}: 📎 ${safeText(content.name)} (${
        formatBytes(content.size)
      }) — fetch with /get ${content.fileId.slice(0, 8)}${mark}${warning}`;
    default:
      return `${head}: (${safeText((content as { kind: string }).kind)})${warning}`;
  }
}

/**
 * The marks of my own messages from the receipts among `items`: delivered
 * once any recipient's device has it, read once any recipient has shown it.
 */
export function marksFrom(items: Iterable<Incoming>, me: string): Map<string, Mark> {
  const marks = new Map<string, Mark>();
  for (const item of items) {
    if (!("message" in item)) continue;
    const { message } = item;
    if (message.content.kind === "receipt") {
      if (message.from === me) continue;
      for (const id of message.content.ids) {
        if (marks.get(id) !== "read") marks.set(id, message.content.receipt);
      }
    }
  }
  return marks;
}

/** A contact as a JSON object. */
export function contactJson(contact: Contact, name?: string): Record<string, unknown> {
  return {
    phone: contact.phone,
    ...(name !== undefined ? { name } : {}),
    status: contact.status,
    signingKey: fingerprint(contact.signingKey),
    pinnedAt: new Date(contact.pinnedAt).toISOString(),
    ...(contact.pendingSigningKey ? { newSigningKey: fingerprint(contact.pendingSigningKey) } : {}),
  };
}

/** A contact as a line for people. */
export function contactLine(contact: Contact, name?: string): string {
  const status = contact.status === "trusted" ? "trusted" : "KEY CHANGED — verify before trusting";
  const named = name !== undefined ? `  (${safeText(name)})` : "";
  return `${contact.phone}${named}  ${fingerprint(contact.signingKey)}  ${status}`;
}

/** A file as a JSON object. */
export function fileJson(file: FileEntry, me: string): Record<string, unknown> {
  return {
    type: "file",
    fileId: file.fileId,
    name: file.name,
    size: file.size,
    from: file.from,
    to: file.to,
    direction: file.from === me ? "sent" : "received",
    complete: file.complete,
    verified: file.verified,
    createdAt: new Date(file.createdAt).toISOString(),
  };
}

/** A file as a line for people: short id, size, name (made safe), who sent it. */
export function fileLine(file: FileEntry, me: string, nameOf: NameOf = numbersOnly): string {
  const direction = file.from === me
    ? `to ${file.to.map((p) => safeText(nameOf(p))).join(", ")}`
    : `from ${safeText(nameOf(file.from))}`;
  const state = file.complete ? "" : "  (uploading)";
  return `${file.fileId.slice(0, 8)}  ${formatBytes(file.size).padStart(10)}  ${
    safeText(file.name)
  }  ${direction}${state}`;
}

/** Continuation lines of a multi-line message start here, below the text. */
const INDENT = "      ";

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** Content for JSON output: a file's key is never printed. */
function withoutKey(content: ReceivedMessage["content"]): Record<string, unknown> {
  if (content.kind !== "file") return content;
  const { key: _key, ...rest } = content;
  return rest;
}
