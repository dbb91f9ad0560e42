/**
 * The interactive line-based session: incoming messages appear live above
 * the prompt; lines typed are sent to the open conversation; commands start
 * with a slash (`/help` lists them).
 *
 * @module
 */
import { SspError } from "../errors.ts";
import { normalizePhone } from "../phone.ts";
import { contactLine, messageLine } from "./format.ts";
import { lines } from "../ui/lines.ts";
import { progressFor } from "./file_commands.ts";
import { deleteFile, getFile, listFiles, sendFile } from "../client/files.ts";
import { confirm, promptSecret } from "../ui/prompt.ts";
import { type AccountOptions, readPassword, sessionFor, verifyInSession } from "./commands.ts";
import type { Incoming } from "../client/messenger.ts";
import { isLoginFailure, type Session } from "../client/session.ts";
import { Output } from "../ui/output.ts";

const HELP = `commands:
  /to NUMBER[,NUMBER…]   open a conversation (and show its latest messages)
  /history [N]           show the last N messages of the open conversation (default 20)
  /send-file PATH        send a file to the open conversation
  /files                 list files sent and received
  /get ID [DIR]          fetch a file (by the id /files shows) into DIR (default .)
  /delete ID             delete a file you sent from the server (frees your quota)
  /contacts              list contacts and whether their keys are trusted
  /verify NUMBER         show the safety number to compare with NUMBER
  /accept NUMBER         trust NUMBER's changed key (after comparing safety numbers)
  /help                  this list
  /quit                  leave (Ctrl-D works too)
anything else is sent to the open conversation`;

/** Logs in (offering to register after a failed login) and runs the session until /quit. */
export async function interactive(options: AccountOptions): Promise<void> {
  const session = await loginOrRegister(options);
  const me = session.account.phone;
  let current: string[] = [];
  let leaving = false;
  const encoder = new TextEncoder();
  const promptText = () => current.length ? `${current.join(",")}> ` : "> ";
  const tty = Deno.stdout.isTerminal();
  const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
  const showPrompt = () => tty && write(promptText());
  // On a terminal: clear the prompt line first; the prompt is shown again after.
  const print = (line: string) => write(`${tty ? "\r\x1b[K" : ""}${line}\n`);
  const show = (incoming: Incoming | { note: string }) => {
    if ("note" in incoming) {
      print(incoming.note);
      return;
    }
    if ("rejected" in incoming) {
      print(
        `⚠ refused a message from ${
          incoming.rejected.from ?? "?"
        }: ${incoming.rejected.error.message}`,
      );
      return;
    }
    print(messageLine(incoming.message, me));
  };
  session.messenger.onIncoming = (incoming) => {
    show(incoming);
    if ("message" in incoming && incoming.message.content.kind === "text") {
      const { message } = incoming;
      if (sameMembers(message.with, current)) {
        session.messenger.send([message.from], {
          kind: "receipt",
          receipt: "read",
          ids: [message.id],
        })
          .catch(() => {});
      }
    }
  };
  print(
    `logged in as ${me} on ${session.connection.server} (server key ${session.connection.fingerprint})`,
  );
  print("type /help for commands; /to NUMBER opens a conversation");
  const quiet = new Output(false);
  showPrompt();
  const disconnected = session.rpc.closed.then((reason) => {
    if (!leaving) print(`disconnected${reason ? `: ${reason.message}` : ""}; restart to reconnect`);
    return true;
  });

  for await (const line of lines(Deno.stdin.readable)) {
    const text = line.trim();
    try {
      if (text === "") {
        // nothing
      } else if (text === "/quit" || text === "/exit") {
        break;
      } else if (text === "/help") {
        print(HELP);
      } else if (text.startsWith("/to ")) {
        current = text.slice(4).split(",").map((n) => normalizePhone(n.trim(), options.region));
        await session.messenger.contactKeys(current);
        await showHistory(session, current, 10, show);
      } else if (text.startsWith("/history")) {
        if (!current.length) {
          throw new SspError("no_conversation", "open a conversation with /to NUMBER first");
        }
        await showHistory(session, current, Number(text.split(/\s+/)[1] ?? 20) || 20, show);
      } else if (text.startsWith("/send-file ")) {
        if (!current.length) {
          throw new SspError("no_conversation", "open a conversation with /to NUMBER first");
        }
        const path = text.slice("/send-file ".length).trim();
        const progress = progressFor(
          path.split("/").pop() ?? path,
          (await Deno.stat(path)).size,
          quiet,
        );
        const sent = await sendFile(session, path, current, (done) => progress.update(done)).catch(
          (e) => {
            progress.fail(e);
            throw e;
          },
        );
        progress.finish();
        print(`sent ${sent.name} (file ${sent.fileId.slice(0, 8)})`);
      } else if (text === "/files") {
        const files = await listFiles(session);
        print(
          files.length
            ? files.map((f) =>
              `${f.fileId.slice(0, 8)}  ${f.name}  ${f.size} bytes  from ${f.from}`
            ).join("\n")
            : "no files yet",
        );
      } else if (text.startsWith("/get ")) {
        const [, id, dir] = text.split(/\s+/);
        let progress: ReturnType<typeof progressFor> | undefined;
        const got = await getFile(session, id ?? "", dir ?? ".", (done, total) => {
          progress ??= progressFor(id ?? "", total, quiet);
          progress.update(done);
        });
        progress?.finish();
        print(`saved ${got.path}${got.entry.verified ? "" : "  ⚠ UNVERIFIED sender key"}`);
      } else if (text.startsWith("/delete ")) {
        const deleted = await deleteFile(session, text.split(/\s+/)[1] ?? "");
        print(`deleted ${deleted.name} (file ${deleted.fileId.slice(0, 8)}) from the server`);
      } else if (text === "/contacts") {
        const contacts = session.state.contacts();
        print(contacts.length ? contacts.map(contactLine).join("\n") : "no contacts yet");
      } else if (text.startsWith("/verify ") || text.startsWith("/accept ")) {
        const [command, number] = text.split(/\s+/);
        const out = new Output(false, print, print);
        await verifyInSession(
          session,
          normalizePhone(number ?? "", options.region),
          command === "/accept",
          out,
        );
      } else if (text.startsWith("/")) {
        print(`unknown command ${text.split(/\s+/)[0]}; /help lists them`);
      } else {
        if (!current.length) {
          throw new SspError("no_conversation", "open a conversation with /to NUMBER first");
        }
        await session.messenger.send(current, { kind: "text", text: line });
      }
    } catch (error) {
      const e = error as Error & { hint?: string };
      print(`error: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ""}`);
    }
    showPrompt();
    if (await Promise.race([disconnected, Promise.resolve(false)])) break;
  }
  leaving = true;
  if (tty) write("\n");
  session.close();
}

async function loginOrRegister(options: AccountOptions): Promise<Session> {
  const password = await readPassword(options);
  try {
    return await sessionFor(options, password);
  } catch (error) {
    if (!isLoginFailure(error)) throw error;
    const phone = normalizePhone(options.phone, options.region);
    if (
      !confirm(
        `Login failed: wrong password, or ${phone} has no account yet. Register ${phone} now?`,
      )
    ) {
      throw error;
    }
    const again = Deno.env.get("SSP_PASSWORD") ?? await promptSecret("Repeat the password: ");
    if (again !== password) throw new SspError("password_mismatch", "the passwords differ");
    return await sessionFor(options, password, "register");
  }
}

async function showHistory(
  session: Session,
  members: string[],
  limit: number,
  show: (incoming: Incoming | { note: string }) => void,
): Promise<void> {
  const page = await session.messenger.history(members, { limit });
  const shown = page.filter((item) =>
    !("message" in item && item.message.content.kind === "receipt")
  );
  for (const item of shown) show(item);
  if (shown.length === 0) show({ note: `no messages yet with ${members.join(", ")}` });
}

function sameMembers(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}
