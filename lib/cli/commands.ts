/**
 * The non-interactive client commands (`register`, `send`, `history`,
 * `listen`, `contacts`, `verify`, `passwd`): each opens a session, does one
 * job and reports through Output.
 *
 * @module
 */
import { safetyNumber } from "../e2e/mod.ts";
import { SspError } from "../errors.ts";
import { normalizePhone } from "../phone.ts";
import {
  contactJson,
  contactLine,
  DayLines,
  type LineView,
  marksFrom,
  messageJson,
  messageLine,
  rejectedJson,
  rejectedLine,
} from "./format.ts";
import type { Output } from "../ui/mod.ts";
import { type AccountOptions, readPassword, sessionFor, withSession } from "./account_options.ts";
import { promptNewPassword } from "./passwords.ts";
import { reconnect } from "./reconnect.ts";
import { changePassword } from "../client/mod.ts";
import type { Incoming, Session } from "../client/mod.ts";

/** `register`: creates the account (a typed password is asked twice, and again if too short). */
export async function registerCommand(options: AccountOptions, out: Output): Promise<void> {
  normalizePhone(options.phone, options.region); // a mistyped number before any password
  const scripted = Deno.env.get("SSP_PASSWORD") !== undefined || options.passwordStdin;
  const password = scripted ? await readPassword(options) : await promptNewPassword();
  const session = await sessionFor(options, password, "register");
  session.close();
  out.result(
    { phone: session.account.phone, registered: true },
    `registered ${session.account.phone}; your keys are backed up, encrypted, on the server`,
  );
}

/** `send --to NUMBER TEXT`. */
export async function sendCommand(
  options: AccountOptions & { to: string[] },
  text: string,
  out: Output,
): Promise<void> {
  await withSession(options, out, async (session) => {
    const to = options.to.map((n) => normalizePhone(n, options.region));
    const sent = await session.messenger.send(to, { kind: "text", text });
    out.result({ ...sent, to }, `sent to ${to.join(", ")} (message ${sent.id}, seq ${sent.seq})`);
  });
}

/** `history --with NUMBER`. */
export async function historyCommand(
  options: AccountOptions & { with: string[]; limit: number; before?: number; after?: number },
  out: Output,
): Promise<void> {
  await withSession(options, out, async (session) => {
    const members = options.with.map((n) => normalizePhone(n, options.region));
    const page = await session.messenger.history(members, {
      limit: options.limit,
      ...(options.before !== undefined ? { before: options.before } : {}),
      ...(options.after !== undefined ? { after: options.after } : {}),
    });
    const me = session.account.phone;
    if (out.json) {
      for (const item of page) printIncoming(item, { me }, out);
    } else {
      // For people, receipts are marks on the messages they refer to, not lines of their own.
      const marks = marksFrom(page, me);
      const days = new DayLines();
      for (const item of page) {
        if ("message" in item && item.message.content.kind === "receipt") continue;
        if ("message" in item) {
          const day = days.next(item.message.timestamp);
          if (day) out.line(day);
        }
        const mark = "message" in item && item.message.from === me
          ? marks.get(item.message.id) ?? "sent"
          : undefined;
        printIncoming(item, { me, ...(mark ? { mark } : {}) }, out);
      }
    }
    if (page.length === 0) out.note("no messages");
  });
}

/**
 * `listen`: prints incoming messages until interrupted (SIGINT, SIGTERM:
 * success). When the connection drops it logs in again (waits growing to
 * 30 s), and says so; with `reconnect: false` (`--no-reconnect`) it fails
 * instead.
 *
 * @throws {SspError} `connection_lost` with `--no-reconnect` when the
 *   connection ends without being asked to, so a script can tell a dropped
 *   connection from a clean stop.
 */
export async function listenCommand(
  options: AccountOptions & { reconnect?: boolean },
  out: Output,
): Promise<void> {
  const password = await readPassword(options);
  const days = new DayLines();
  let me = "";
  const onIncoming = (incoming: Incoming) => {
    if (!out.json && "message" in incoming) {
      const day = days.next(incoming.message.timestamp);
      if (day) out.line(day);
    }
    printIncoming(incoming, { me }, out);
  };
  const stopping = new AbortController();
  let session: Session | null = await sessionFor(options, password, "login", onIncoming);
  const stop = () => {
    stopping.abort();
    session?.close();
  };
  // Before "listening" is printed: a script may send SIGTERM as soon as it reads it.
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    if (session.connection.pin === "first_use") {
      out.note(`pinned the key of ${session.connection.server}: ${session.connection.fingerprint}`);
    }
    while (session) {
      me = session.account.phone;
      out.note(`listening as ${me}; Ctrl-C to stop`, { type: "listening", phone: me });
      const reason = await session.rpc.closed;
      session.close();
      if (stopping.signal.aborted) return;
      const server = session.connection.server;
      const lost = new SspError(
        "connection_lost",
        `lost the connection to ${server}${reason ? `: ${reason.message}` : ""}`,
        {
          hint: "the server stopped or the network failed; run listen again when it is back " +
            "(messages sent meanwhile wait on the server)",
          ...(reason ? { cause: reason } : {}),
        },
      );
      if (options.reconnect === false) throw lost;
      out.note(`${lost.message}; reconnecting…`, {
        type: "disconnected",
        code: lost.code,
        error: lost.message,
      });
      session = await reconnect(
        () => sessionFor(options, password, "login", onIncoming),
        stopping.signal,
        (error, nextInMs) =>
          out.note(`reconnecting failed: ${error.message}; next try in ${nextInMs / 1000} s`),
      );
    }
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    session?.close();
  }
}

/** `contacts`: pinned contacts and their trust state. */
export async function contactsCommand(options: AccountOptions, out: Output): Promise<void> {
  await withSession(options, out, (session) => {
    const contacts = session.state.contacts();
    for (const contact of contacts) out.result(contactJson(contact), contactLine(contact));
    if (contacts.length === 0) out.note("no contacts yet");
    return Promise.resolve();
  });
}

/** `verify NUMBER [--accept]`: the safety number, and accepting a changed key. */
export async function verifyCommand(
  options: AccountOptions & { accept?: boolean },
  number: string,
  out: Output,
): Promise<void> {
  await withSession(options, out, async (session) => {
    const phone = normalizePhone(number, options.region);
    await verifyInSession(session, phone, Boolean(options.accept), out);
  });
}

/** Shows the safety number with `phone` (accepting a changed key first if `accept`). */
export async function verifyInSession(
  session: Session,
  phone: string,
  accept: boolean,
  out: Output,
): Promise<void> {
  const keys = (await session.messenger.contactKeys([phone])).get(phone);
  if (!keys) throw new SspError("unknown_contact", "you cannot verify your own number");
  const contact = accept ? session.messenger.acceptKey(phone) : keys.contact;
  const me = session.account;
  const theirs = contact.status === "changed"
    ? { signingKey: contact.pendingSigningKey!, encryptionKey: contact.pendingEncryptionKey! }
    : contact;
  const number = safetyNumber(
    {
      phone: me.phone,
      signingKey: me.keys.signing.publicKey,
      encryptionKey: me.keys.encryption.publicKey,
    },
    { phone, signingKey: theirs.signingKey, encryptionKey: theirs.encryptionKey },
  );
  out.result(
    { phone, status: contact.status, safetyNumber: number, accepted: accept },
    [
      `safety number with ${phone}:`,
      `  ${number}`,
      contact.status === "changed"
        ? `their key CHANGED. Compare this number with them (in person or by a call), then run: ssp-client verify ${phone} --accept`
        : "compare it with theirs (in person or by a call); if it matches, the conversation is private",
    ].join("\n"),
  );
}

/** `passwd`: changes the password (the new one from SSP_NEW_PASSWORD or a prompt). */
export async function passwdCommand(options: AccountOptions, out: Output): Promise<void> {
  const oldPassword = await readPassword(options, "Current password: ");
  const newPassword = Deno.env.get("SSP_NEW_PASSWORD") ?? await promptNewPassword();
  const session = await sessionFor(options, oldPassword);
  try {
    await changePassword(session.rpc, session.state, session.account, oldPassword, newPassword);
  } finally {
    session.close();
  }
  out.result({ phone: session.account.phone, changed: true }, "password changed");
}

/** Prints a delivered or historical envelope. */
export function printIncoming(incoming: Incoming, view: LineView, out: Output): void {
  if ("message" in incoming) {
    out.result(messageJson(incoming.message), messageLine(incoming.message, view));
  } else {
    out.result(rejectedJson(incoming), rejectedLine(incoming, view.nameOf));
  }
}
