/**
 * The one interface everything that touches storage goes through. The
 * embedded SQLite store and the MongoDB store both implement it, and one
 * contract suite (`contract.ts`) tests both.
 *
 * The store keeps only what the server may know: public keys, a verifier of
 * each account's auth key, opaque encrypted key backups and opaque signed,
 * end-to-end encrypted envelopes. It never sees a password or plaintext.
 *
 * @module
 */

/** An account as stored. Phone numbers are E.164 strings, e.g. "+12025550123". */
export interface AccountRecord {
  /** E.164 phone number; unique. */
  phone: string;
  /** Salt of the client's password KDF (handed out before login). */
  kdfSalt: Uint8Array;
  /** The client's KDF and its parameters, as the client described them (opaque to the store). */
  kdfParams: string;
  /** Server-side salt of the auth-key verifier. */
  verifierSalt: Uint8Array;
  /** Salted hash of the client's auth key. */
  verifier: Uint8Array;
  /** X25519 public key (32 bytes) for end-to-end encryption to this account. */
  encryptionKey: Uint8Array;
  /** Ed25519 public key (32 bytes) this account signs envelopes with. */
  signingKey: Uint8Array;
  /** The account's private keys, encrypted by the client under its wrap key (opaque). */
  keyBackup: Uint8Array;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** New credentials after a password change (the keys stay the same). */
export interface CredentialUpdate {
  kdfSalt: Uint8Array;
  kdfParams: string;
  verifierSalt: Uint8Array;
  verifier: Uint8Array;
  keyBackup: Uint8Array;
}

/** The public keys of one account. */
export interface PublicKeys {
  phone: string;
  encryptionKey: Uint8Array;
  signingKey: Uint8Array;
}

/** An envelope to store. */
export interface NewEnvelope {
  /** Authenticated sender (E.164). */
  sender: string;
  /** The sender's id for this message (idempotency key): unique per sender. */
  clientId: string;
  /** Recipients (E.164), not including the sender unless they message themselves. */
  recipients: string[];
  /** Conversation key: the sorted, comma-joined phone numbers of sender and recipients. */
  conversation: string;
  /** The opaque, signed, encrypted envelope bytes. */
  body: Uint8Array;
}

/** An envelope as stored. */
export interface StoredEnvelope extends NewEnvelope {
  /** Position in the store's single, strictly increasing sequence (1, 2, 3, …). */
  seq: number;
  /** Milliseconds since the epoch, when it was committed. */
  storedAt: number;
}

/** What storing one envelope did. */
export interface AppendResult {
  /** The envelope's sequence number (the original one for a duplicate). */
  seq: number;
  /**
   * When it was committed, ms since the epoch (the original's time for a
   * duplicate): the same `storedAt` that `mailbox()` and `history()` return.
   */
  storedAt: number;
  /** True if (sender, clientId) was already stored: nothing new was written. */
  duplicate: boolean;
}

/** A page request over a conversation's history. */
export interface HistoryQuery {
  /** Only envelopes with seq < before. */
  before?: number;
  /** Only envelopes with seq > after. */
  after?: number;
  /** Most envelopes returned (the newest ones below `before`, or the oldest above `after`). */
  limit: number;
}

/**
 * States shared by every server on one database, each changed by a
 * compare-and-set: `change` reads a key's newest state (null: none yet),
 * `update` returns the next one (or null: no change), and the change is
 * applied only on top of the state it read, else read again
 * (lib/store/mongo_chain.ts). `update` may run several times.
 */
export interface StateChain<S> {
  /** The newest state of `key` (null: none yet): one read, no change. */
  read(key: string): Promise<S | null>;
  /** Applies `update` to the newest state of `key` (see above). */
  change(key: string, update: (state: S | null) => S | null): Promise<void>;
}

/** Storage for accounts and envelopes. Every method may throw StorageError. */
export interface Store {
  /** Creates an account; false (and no change) if the phone number is taken. */
  createAccount(account: AccountRecord): Promise<boolean>;
  /** The account, or null. */
  getAccount(phone: string): Promise<AccountRecord | null>;
  /** Replaces the credentials and key backup; false if there is no such account. */
  updateCredentials(phone: string, update: CredentialUpdate): Promise<boolean>;
  /** Public keys of those of `phones` that have accounts. */
  getPublicKeys(phones: string[]): Promise<PublicKeys[]>;

  /**
   * Durably stores envelopes; resolves only after they are committed (an
   * acknowledged message survives a crash). Concurrent calls share commits
   * (group commit). Results are in the order of `envelopes`.
   */
  appendEnvelopes(envelopes: NewEnvelope[]): Promise<AppendResult[]>;
  /** Envelopes addressed to `recipient` with seq > afterSeq, oldest first, at most `limit`. */
  mailbox(recipient: string, afterSeq: number, limit: number): Promise<StoredEnvelope[]>;
  /**
   * A page of one conversation, oldest first. Only envelopes `member` sent or
   * received are returned (a non-member gets none).
   */
  history(member: string, conversation: string, query: HistoryQuery): Promise<StoredEnvelope[]>;
  /**
   * Bytes of the envelope bodies `sender` has stored (committed, duplicates
   * counted once): what the account's messages take, for its message quota.
   */
  storedMessageBytes(sender: string): Promise<number>;
  /** Highest seq `recipient` acknowledged receiving (0 if none). */
  getDeliveredSeq(recipient: string): Promise<number>;
  /** Records that `recipient` received everything up to `seq` (never moves backwards). */
  setDeliveredSeq(recipient: string, seq: number): Promise<void>;

  /** Finishes in-flight writes and releases the store. */
  close(): Promise<void>;
}
