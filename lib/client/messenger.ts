/**
 * Sending and receiving end-to-end encrypted messages for one logged-in
 * account: contacts' keys are pinned on first use, every envelope is
 * verified against the sender's pinned key before anything is shown, and
 * replays are dropped.
 *
 * @module
 */
import { constantTimeEqual } from "../bytes.ts";
import type { Content } from "../e2e/mod.ts";
import { openEnvelope, type ParsedEnvelope, parseEnvelope, sealEnvelope } from "../e2e/mod.ts";
import { EnvelopeError, SspError } from "../errors.ts";
import { type Deliver, MAX_RECIPIENTS, newMessageId } from "../protocol/mod.ts";
import type { Account } from "./account.ts";
import type { RpcConnection } from "./rpc.ts";
import type { ClientState, Contact } from "./state.ts";

/** A message as the user sees it. */
export interface ReceivedMessage {
  /** Store sequence number (orders messages). */
  seq: number;
  /** The sender's message id. */
  id: string;
  from: string;
  to: string[];
  /** The other members of the conversation (from my point of view). */
  with: string[];
  /** When the sender says it sent it (ms). */
  timestamp: number;
  /** When the server stored it (ms). */
  storedAt: number;
  content: Content;
  /**
   * False when the sender's key changed and the user has not accepted the
   * new one: the signature matches the new key only.
   */
  verified: boolean;
}

/** An envelope that was refused, and why. */
export interface RejectedMessage {
  seq: number;
  from: string | undefined;
  error: SspError;
}

/** What the messenger reports about a delivered envelope. */
export type Incoming = { message: ReceivedMessage } | { rejected: RejectedMessage };

/** An envelope seen before at the same seq: acknowledged again, not shown again. */
type Redelivered = { redelivered: number };

/** The keys that will be used for a contact, with their trust state. */
export interface ContactKeys {
  contact: Contact;
  /** Whether the contact was pinned just now. */
  firstUse: boolean;
}

/** One account's messaging. */
export class Messenger {
  readonly #rpc: RpcConnection;
  readonly #state: ClientState;
  readonly account: Account;
  /** Called for every delivered envelope, after it was checked and acknowledged. */
  onIncoming: (incoming: Incoming) => void = () => {};
  /** Contacts whose keys were fetched from the directory during this session. */
  readonly #fetched = new Set<string>();
  /** Sends are submitted in call order (so one sender's messages stay in order). */
  #sendChain: Promise<unknown> = Promise.resolve();

  constructor(rpc: RpcConnection, state: ClientState, account: Account) {
    this.#rpc = rpc;
    this.#state = state;
    this.account = account;
    rpc.onDeliver = (deliver) => this.#receive(deliver);
  }

  /**
   * Current keys of `phones` from the server's directory, pinned on first
   * use. A key that differs from the pinned one marks the contact "changed".
   */
  async contactKeys(phones: string[], refresh = true): Promise<Map<string, ContactKeys>> {
    const wanted = [...new Set(phones)].filter((p) => p !== this.account.phone);
    if (!refresh && wanted.every((p) => this.#fetched.has(p))) {
      return new Map(wanted.map((p) => [p, { contact: this.#state.contact(p)!, firstUse: false }]));
    }
    const result = new Map<string, ContactKeys>();
    if (wanted.length === 0) return result;
    const { keys } = await this.#rpc.request({ t: "get_keys", phones: wanted });
    for (const phone of wanted) {
      this.#fetched.add(phone);
      const current = keys.find((k) => k.phone === phone);
      if (!current) {
        throw new SspError("unknown_recipient", `${phone} has no ssp account`, {
          hint: "check the number; they must register first",
        });
      }
      const pinned = this.#state.contact(phone);
      if (!pinned) {
        this.#state.pin(phone, current.signingKey, current.encryptionKey);
        result.set(phone, { contact: this.#state.contact(phone)!, firstUse: true });
        continue;
      }
      const same = constantTimeEqual(pinned.signingKey, current.signingKey) &&
        constantTimeEqual(pinned.encryptionKey, current.encryptionKey);
      if (!same) this.#state.markChanged(phone, current.signingKey, current.encryptionKey);
      // The directory shows the pinned keys again: whatever changed has been undone.
      else if (pinned.status === "changed") {
        this.#state.pin(phone, pinned.signingKey, pinned.encryptionKey);
      }
      result.set(phone, { contact: this.#state.contact(phone)!, firstUse: false });
    }
    return result;
  }

  /** Trusts a contact's changed key (after comparing safety numbers). */
  acceptKey(phone: string): Contact {
    const contact = this.#state.contact(phone);
    if (!contact) throw new SspError("unknown_contact", `no pinned key for ${phone}`);
    if (contact.status === "changed" && contact.pendingSigningKey && contact.pendingEncryptionKey) {
      this.#state.pin(phone, contact.pendingSigningKey, contact.pendingEncryptionKey);
    }
    return this.#state.contact(phone)!;
  }

  /**
   * Encrypts `content` for `to` (and for my own other devices), signs it and
   * sends it; resolves when the server has durably stored it. Refuses while a
   * recipient's key is changed and not accepted. Pass the same `id` to retry
   * a send: the server stores and delivers it at most once.
   */
  send(
    to: string[],
    content: Content,
    id: string = newMessageId(),
  ): Promise<{ id: string; seq: number; duplicate: boolean }> {
    // Chain the preparation and the request (not the reply) so requests leave in call order.
    const submitted = this.#sendChain.then(() => this.#submit(to, content, id));
    this.#sendChain = submitted.catch(() => {});
    return submitted.then(async ({ reply }) => {
      const { seq, duplicate } = await reply;
      return { id, seq, duplicate };
    });
  }

  async #submit(
    to: string[],
    content: Content,
    id: string,
  ): Promise<{ reply: Promise<{ seq: number; duplicate: boolean }> }> {
    const { recipients, envelope } = await this.seal(to, content, id);
    return { reply: this.#rpc.request({ t: "send", messageId: id, to: recipients, envelope }) };
  }

  /**
   * Encrypts and signs `content` for `to` and for my own devices, refusing
   * while a recipient's key is changed and not accepted.
   */
  async seal(
    to: string[],
    content: Content,
    id: string,
  ): Promise<{ recipients: string[]; envelope: Uint8Array }> {
    const recipients = [...new Set(to)].sort();
    if (recipients.length > MAX_RECIPIENTS) {
      throw new RangeError(`at most ${MAX_RECIPIENTS} recipients per message`);
    }
    const keys = await this.contactKeys(recipients, false);
    for (const [phone, { contact }] of keys) {
      if (contact.status === "changed") {
        throw new SspError("key_changed", `the key of ${phone} changed since you last talked`, {
          hint:
            `compare safety numbers with \`ssp-client verify ${phone}\`, then accept it with --accept`,
        });
      }
    }
    const envelope = await sealEnvelope({
      id,
      from: this.account.phone,
      to: recipients,
      timestamp: Date.now(),
      content,
      signingKey: this.account.keys.signing.privateKeyPkcs8,
      recipients: [
        ...[...keys.values()].map(({ contact }) => ({
          phone: contact.phone,
          encryptionKey: contact.encryptionKey,
        })),
        { phone: this.account.phone, encryptionKey: this.account.keys.encryption.publicKey },
      ],
    });
    return { recipients, envelope };
  }

  /** Verifies and decrypts an envelope fetched outside the mailbox (e.g. a file announcement). */
  async open(envelope: Uint8Array): Promise<Incoming> {
    return await this.#open(0, 0, envelope) as Incoming; // not live: never a redelivery
  }

  /** A page of the conversation with `members`, oldest first, each verified and decrypted. */
  async history(
    members: string[],
    page: { before?: number; after?: number; limit: number },
  ): Promise<Incoming[]> {
    const reply = await this.#rpc.request({ t: "history", with: members, ...page });
    const out: Incoming[] = [];
    for (const item of reply.items) {
      out.push(await this.#open(item.seq, item.storedAt, item.envelope) as Incoming); // not live
    }
    return out;
  }

  async #receive(deliver: Deliver): Promise<void> {
    let incoming = await this.#open(deliver.seq, deliver.storedAt, deliver.envelope, true);
    // A temporary failure (e.g. the server's store is down while we fetch the sender's key) is
    // not the message's fault: retry a few times, and if it persists leave it unacknowledged,
    // so the server delivers it again at the next login instead of it being lost as "refused".
    for (let attempt = 1; isTemporary(incoming) && attempt <= TEMPORARY_RETRIES; attempt++) {
      const wait = (incoming as { rejected: RejectedMessage }).rejected.error.retryAfterMs ?? 1000;
      await new Promise((resolve) => setTimeout(resolve, wait));
      incoming = await this.#open(deliver.seq, deliver.storedAt, deliver.envelope, true);
    }
    if (isTemporary(incoming)) return;
    await this.#rpc.notify({ t: "ack", seq: deliver.seq });
    if ("redelivered" in incoming) return;
    this.onIncoming(incoming);
    if ("message" in incoming && incoming.message.content.kind === "text") {
      const { from, id } = incoming.message;
      // Delivery receipt: itself an end-to-end envelope, so the server learns nothing new.
      this.send([from], { kind: "receipt", receipt: "delivered", ids: [id] }).catch(() => {});
    }
  }

  async #open(
    seq: number,
    storedAt: number,
    bytes: Uint8Array,
    live = false,
  ): Promise<Incoming | Redelivered> {
    let parsed: ParsedEnvelope | undefined;
    try {
      parsed = parseEnvelope(bytes);
      const opened = await this.#verifyAndDecrypt(parsed);
      const seen = live ? this.#state.markSeen(parsed.from, parsed.id, seq) : "new";
      if (seen === "replay") {
        throw new EnvelopeError(
          "replayed",
          `message ${parsed.id} from ${parsed.from} was already received`,
        );
      }
      if (seen === "redelivery") return { redelivered: seq };
      const others = [...new Set([parsed.from, ...parsed.to])].filter((p) =>
        p !== this.account.phone
      );
      return {
        message: {
          seq,
          id: parsed.id,
          from: parsed.from,
          to: [...parsed.to],
          with: others.length ? others.sort() : [this.account.phone],
          timestamp: parsed.timestamp,
          storedAt,
          content: opened.content,
          verified: opened.verified,
        },
      };
    } catch (error) {
      const e = error instanceof SspError
        ? error
        : new SspError("bad_envelope", `unreadable envelope: ${String(error)}`);
      return { rejected: { seq, from: parsed?.from, error: e } };
    }
  }

  /**
   * Opens an envelope under the sender's pinned key (pinning it on first
   * use). If that fails, the directory is asked again: a changed key is
   * recorded, and a message that verifies under it is shown as unverified.
   */
  async #verifyAndDecrypt(
    parsed: ParsedEnvelope,
  ): Promise<{ content: Content; verified: boolean }> {
    const open = (senderSigningKey: Uint8Array) =>
      openEnvelope(parsed, {
        phone: this.account.phone,
        encryptionPrivateKey: this.account.keys.encryption.privateKey,
        senderSigningKey,
      });
    if (parsed.from === this.account.phone) {
      return { content: await open(this.account.keys.signing.publicKey), verified: true };
    }
    const contact = this.#state.contact(parsed.from) ??
      (await this.contactKeys([parsed.from])).get(parsed.from)!.contact;
    try {
      return { content: await open(contact.signingKey), verified: true };
    } catch (error) {
      if (!(error instanceof EnvelopeError) || error.code !== "bad_signature") throw error;
      const pending = (await this.contactKeys([parsed.from])).get(parsed.from)?.contact
        .pendingSigningKey;
      if (!pending) throw error;
      return { content: await open(pending), verified: false };
    }
  }
}

/** How often a delivery that failed for a temporary reason is retried before it is left. */
const TEMPORARY_RETRIES = 5;

/** Codes of failures that say nothing about the envelope itself. */
const TEMPORARY_CODES = new Set(["storage_unavailable", "shutting_down", "rate_limited"]);

function isTemporary(incoming: Incoming | Redelivered): boolean {
  return "rejected" in incoming && TEMPORARY_CODES.has(incoming.rejected.error.code);
}
