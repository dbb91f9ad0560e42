/**
 * Test users: accounts registered on a test server, each with its own client
 * data dir, and a log of what each received.
 *
 * @module
 */
import type { Incoming, ReceivedMessage, RejectedMessage } from "../lib/client/mod.ts";
import { openSession, ServerError, type Session } from "../lib/client/mod.ts";
import { newMessageId } from "../lib/protocol/mod.ts";
import { within } from "../lib/testing/mod.ts";
import { tempDir, type TestServer } from "./harness.ts";

/** A logged-in user and everything delivered to it. */
export interface TestUser {
  session: Session;
  phone: string;
  password: string;
  dataDir: string;
  received: ReceivedMessage[];
  rejected: RejectedMessage[];
  /** Resolves once `count` text messages (receipts not counted) have arrived. */
  texts(count: number): Promise<ReceivedMessage[]>;
  /** Resolves once `count` envelopes have been refused. */
  refusals(count: number): Promise<RejectedMessage[]>;
}

/** Default password of test users. */
export const PASSWORD = "correct horse battery staple";

/** Logs in (registering first when `register`) with a fresh or given client data dir. */
export async function userSession(
  server: TestServer,
  phone: string,
  options: { register?: boolean; password?: string; dataDir?: string } = {},
): Promise<TestUser> {
  const dataDir = options.dataDir ?? await tempDir("ssp-client-");
  const password = options.password ?? PASSWORD;
  const session = await openSession({
    server: server.address,
    dataDir,
    phone,
    password,
    mode: options.register ? "register" : "login",
  });
  const received: ReceivedMessage[] = [];
  const rejected: RejectedMessage[] = [];
  const waiters: (() => void)[] = [];
  /** Resolves once `ready()` holds, checked after each incoming message; fails after 10 s. */
  const until = (ready: () => boolean, what: string) =>
    within(
      new Promise<void>((resolve) => {
        const check = () => ready() ? resolve() : waiters.push(check);
        check();
      }),
      { what: `${what} for ${phone}` },
    );
  const texts = () => received.filter((m) => m.content.kind === "text");
  session.messenger.onIncoming = (incoming: Incoming) => {
    if ("message" in incoming) received.push(incoming.message);
    else rejected.push(incoming.rejected);
    for (const waiter of waiters.splice(0)) waiter();
  };
  return {
    session,
    phone,
    password,
    dataDir,
    received,
    rejected,
    async texts(count) {
      await until(() => texts().length >= count, `${count} text messages`);
      return texts();
    },
    async refusals(count) {
      await until(() => rejected.length >= count, `${count} refused messages`);
      return rejected;
    },
  };
}

/** The device token (§6.9) `user`'s data dir holds for the server it is logged in to. */
export function tokenOf(user: TestUser): Uint8Array | null {
  const { session } = user;
  return session.state.deviceToken(session.rpc.channel.session.serverIdentity, user.phone);
}

/** Registers a new account and returns it logged in. */
export function newUser(server: TestServer, phone: string): Promise<TestUser> {
  return userSession(server, phone, { register: true });
}

/** The text of each text message, in order. */
export function textsOf(messages: ReceivedMessage[]): string[] {
  return messages.flatMap((m) => m.content.kind === "text" ? [m.content.text] : []);
}

/**
 * Seals a text of about `bytes` bytes from `user` to `to` and sends it with
 * one raw `send` request (no retry, no outbox): "ok", or the server's error
 * code; with `hinted`, a refusal without a hint fails the test.
 */
export async function sendRaw(
  user: TestUser,
  to: string,
  bytes: number,
  options: { hinted?: boolean } = {},
): Promise<string> {
  const messageId = newMessageId();
  const { recipients, envelope } = await user.session.messenger.seal(
    [to],
    { kind: "text", text: "x".repeat(bytes) },
    messageId,
  );
  try {
    await user.session.rpc.request({ t: "send", messageId, to: recipients, envelope });
    return "ok";
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
    if (options.hinted && !error.hint) throw new Error(`no hint with ${error.code}`);
    return error.code;
  }
}
