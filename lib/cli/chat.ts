/**
 * The state of an interactive session: the open conversation, names,
 * unread counts, marks on my last message, and how incoming messages are
 * shown (date lines, a prefix and the bell for other conversations, read
 * receipts for what is shown).
 *
 * @module
 */
import { SspError } from "../errors.ts";
import { normalizePhone } from "../phone.ts";
import type { ChatBook, Incoming, QueuedText, ReceivedMessage, Session } from "../client/mod.ts";
import { ServerError } from "../client/mod.ts";
import type { Output, Screen } from "../ui/mod.ts";
import { DayLines, type Mark, MARK_TEXT, marksFrom, messageLine, rejectedLine } from "./format.ts";
import { MAX_HISTORY_PAGE, newMessageId } from "../protocol/mod.ts";

/** Messages shown when a conversation is opened. */
export const OPEN_HISTORY = 10;

/** One interactive session's view. */
export class Chat {
  /** The current connection's session (replaced after a reconnect). */
  session: Session;
  /** False from a dropped connection until the next login: texts then wait in the outbox. */
  online = true;
  readonly book: ChatBook;
  readonly screen: Screen;
  readonly out: Output;
  readonly region: string | undefined;
  /** The open conversation's other members (empty: none open). */
  current: string[] = [];
  /** Whether a message outside the open conversation rings the bell. */
  bell = true;
  readonly #days = new DayLines();
  /** My last message in the open conversation and its mark. */
  #last: { id: string; mark: Mark } | undefined;
  /** Messages I already sent a read receipt for. */
  readonly #readSent = new Set<string>();

  constructor(session: Session, book: ChatBook, screen: Screen, out: Output, region?: string) {
    this.session = session;
    this.book = book;
    this.screen = screen;
    this.out = out;
    this.region = region;
  }

  /** My number. */
  get me(): string {
    return this.session.account.phone;
  }

  /** A number's local name, or the number. */
  readonly nameOf = (phone: string): string => this.book.nameOf(phone) ?? phone;

  /** How a conversation is called: its members' names, comma-separated. */
  label(members: string[]): string {
    return members.map(this.nameOf).join(", ");
  }

  /** A contact's number from a name given with /name, or a number in any usual format. */
  resolve(word: string): string {
    const named = this.book.phoneNamed(word);
    if (named) return named;
    if (!/^[+(\d]/.test(word.trim())) {
      throw new SspError("unknown_name", `no contact is called "${word.trim()}"`, {
        hint: "name one with /name NUMBER NAME, or use the number",
      });
    }
    return normalizePhone(word, this.region);
  }

  /**
   * Opens the conversation with `members` (names or numbers) after checking
   * that each has an account; on any error the open conversation stays.
   */
  async open(words: string[]): Promise<void> {
    const members = [...new Set(words.map((w) => this.resolve(w)))].sort();
    if (members.length === 0) throw new TypeError("name at least one member");
    // Throws for a number with no account, before anything changes.
    await this.session.messenger.contactKeys(members);
    this.current = members;
    this.#last = undefined;
    this.updatePrompt();
    await this.showHistory(OPEN_HISTORY);
  }

  /** The prompt: the open conversation and the mark of my last message in it. */
  updatePrompt(): void {
    if (!this.current.length) return this.screen.setPrompt("> ");
    const mark = this.#last ? ` ${MARK_TEXT[this.#last.mark]}` : "";
    this.screen.setPrompt(`${this.label(this.current)}${mark}> `);
  }

  /**
   * Sends a text to the open conversation. It goes through the durable
   * outbox: offline, or when the connection drops while sending, it stays
   * there and {@linkcode flushOutbox} sends it, under the same id, later.
   */
  async sendText(text: string): Promise<void> {
    if (!this.current.length) {
      throw new SspError("no_conversation", "no conversation is open", {
        hint: "open one with /to NAME or /to NUMBER",
      });
    }
    const item = { id: newMessageId(), members: this.current, text };
    this.book.queue(item);
    if (!this.online) {
      this.out.line("offline: the message waits in the outbox and goes out after reconnecting");
      return;
    }
    await this.flushOutbox(item.id);
  }

  /**
   * Sends what waits in the outbox, oldest first (so texts keep the order they
   * were typed in), and stops at the first that cannot go yet. A refusal of
   * `fresh` (the text just typed) is thrown; refusals of older ones are shown.
   */
  async flushOutbox(fresh?: string): Promise<void> {
    for (const item of this.book.queued()) {
      if (!this.online) return;
      try {
        if (!await this.#deliver(item)) return;
      } catch (error) {
        if (item.id === fresh) throw error;
        this.out.error(error);
        continue;
      }
      if (item.id !== fresh) {
        this.out.line(`sent what waited in the outbox to ${this.label(item.members)}`);
      }
    }
  }

  /** One send attempt; false if the text stays queued for the next. */
  async #deliver(item: QueuedText): Promise<boolean> {
    let sent;
    try {
      sent = await this.session.messenger.send(
        item.members,
        { kind: "text", text: item.text },
        item.id,
      );
    } catch (error) {
      if (!isAboutTheMessage(error)) {
        this.out.line(
          `not sent yet (${
            (error as Error).message
          }): it waits in the outbox and goes out after reconnecting`,
        );
        return false;
      }
      this.book.unqueue(item.id);
      throw error;
    }
    this.book.unqueue(item.id);
    this.book.noteMessage(item.members, Date.now(), false);
    if (sameMembers(item.members, this.current)) {
      this.#last = { id: sent.id, mark: "sent" };
      this.updatePrompt();
    }
    return true;
  }

  /**
   * Shows the last `count` messages (receipts not counted: they become marks)
   * of the open conversation, and sends read receipts for them.
   */
  async showHistory(count: number): Promise<void> {
    const members = this.current;
    const items: Incoming[] = [];
    let shown = 0;
    let before: number | undefined;
    while (shown < count) {
      const page = await this.session.messenger.history(members, {
        limit: MAX_HISTORY_PAGE,
        ...(before !== undefined ? { before } : {}),
      });
      if (page.length === 0) break;
      items.unshift(...page);
      shown += page.filter((i) => !isReceipt(i)).length;
      const first = page[0]!;
      before = "message" in first ? first.message.seq : first.rejected.seq;
      if (page.length < MAX_HISTORY_PAGE || before <= 1) break;
    }
    const marks = marksFrom(items, this.me);
    const messages = items.filter((i) => !isReceipt(i)).slice(-count);
    if (messages.length === 0) {
      this.screen.print(`no messages yet with ${this.label(members)}`);
    }
    for (const item of messages) {
      if ("rejected" in item) {
        this.out.line(rejectedLine(item, this.nameOf));
        continue;
      }
      const { message } = item;
      const mark = message.from === this.me ? marks.get(message.id) ?? "sent" : undefined;
      this.#print(message, mark);
      if (message.from === this.me) this.#last = { id: message.id, mark: mark ?? "sent" };
    }
    this.book.markRead(members);
    this.updatePrompt();
    this.#sendRead(messages.flatMap((i) => "message" in i ? [i.message] : []));
  }

  /** Shows a message delivered live, with what it changes (unread count, marks, bell). */
  receive(incoming: Incoming): void {
    if ("rejected" in incoming) {
      this.out.line(rejectedLine(incoming, this.nameOf));
      return;
    }
    const { message } = incoming;
    const here = sameMembers(message.with, this.current);
    if (message.content.kind === "receipt") {
      const { receipt, ids } = message.content;
      if (here && message.from !== this.me && this.#last && ids.includes(this.#last.id)) {
        if (this.#last.mark !== "read") this.#last.mark = receipt;
        this.updatePrompt();
      }
      return;
    }
    const mine = message.from === this.me;
    this.book.noteMessage(message.with, message.timestamp, !here && !mine);
    if (here) {
      this.#print(message, mine ? "sent" : undefined);
      this.#sendRead([message]);
      return;
    }
    this.#print(message, undefined, `«${this.label(message.with)}» `);
    if (!mine && this.bell) this.screen.bell();
  }

  #print(message: ReceivedMessage, mark: Mark | undefined, prefix?: string): void {
    const day = this.#days.next(message.timestamp);
    if (day) this.out.line(day);
    this.out.line(messageLine(message, {
      me: this.me,
      nameOf: this.nameOf,
      ...(mark ? { mark } : {}),
      ...(prefix ? { prefix } : {}),
    }));
  }

  /** Read receipts for shown messages from others, once each per session. */
  #sendRead(messages: ReceivedMessage[]): void {
    const bySender = new Map<string, string[]>();
    for (const m of messages) {
      if (m.from === this.me || this.#readSent.has(m.id)) continue;
      if (m.content.kind !== "text" && m.content.kind !== "file") continue;
      this.#readSent.add(m.id);
      bySender.set(m.from, [...bySender.get(m.from) ?? [], m.id]);
    }
    for (const [from, ids] of bySender) {
      this.session.messenger.send([from], { kind: "receipt", receipt: "read", ids })
        .catch(() => {}); // a lost read receipt only leaves a mark at "delivered"
    }
  }
}

/** Whether two member lists name the same conversation. */
export function sameMembers(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((x, i) => x === sorted[i]);
}

/**
 * Whether a failed send was refused for the message itself (a changed key, no
 * such account, too big): retrying cannot help. Anything else — the
 * connection dropped, or the server is briefly unable — leaves it queued.
 */
function isAboutTheMessage(error: unknown): boolean {
  if (error instanceof ServerError) return !TEMPORARY_CODES.has(error.code);
  if (error instanceof TypeError || error instanceof RangeError) return true;
  return error instanceof SspError &&
    (error.code === "key_changed" || error.code === "unknown_recipient");
}

/** Server error codes that say "not now" rather than "never". */
const TEMPORARY_CODES = new Set(["storage_unavailable", "shutting_down", "rate_limited"]);

function isReceipt(item: Incoming): boolean {
  return "message" in item && item.message.content.kind === "receipt";
}
