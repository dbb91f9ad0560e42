/**
 * The interactive session: incoming messages appear live above the prompt
 * (which keeps what the user is typing), lines typed are sent to the open
 * conversation, and commands start with a slash (`/help` lists them; see
 * chat_commands.ts).
 *
 * @module
 */
import { ChatBook } from "../client/mod.ts";
import type { Incoming, Session } from "../client/mod.ts";
import { Output, Screen } from "../ui/mod.ts";
import { Chat } from "./chat.ts";
import { reconnect } from "./reconnect.ts";
import { runChatCommand } from "./chat_commands.ts";
import { type AccountOptions, sessionFor } from "./account_options.ts";
import { interactiveLogin } from "./passwords.ts";

/**
 * Logs in (offering to register after a failed login) and runs the session
 * until /quit, logging in again whenever the connection drops.
 */
export async function interactive(options: AccountOptions): Promise<void> {
  // Messages delivered right after login wait here until the view exists.
  let chat = undefined as Chat | undefined;
  const early: Incoming[] = [];
  const onIncoming = (incoming: Incoming) => {
    if (chat) chat.receive(incoming);
    else early.push(incoming);
  };
  const { session, password } = await interactiveLogin(options, onIncoming);
  const book = await ChatBook.open(options.data, session.account.phone);
  const screen = new Screen();
  const out = new Output(false, {
    stdout: (line) => screen.print(line),
    stderr: (line) => screen.print(line),
    // A bar redrawn in place would fight the prompt: progress comes as lines above it.
    progress: { mode: "lines", write: (text) => screen.print(text.replace(/\n$/, "")) },
  });
  chat = new Chat(session, book, screen, out, options.region);
  const { server, fingerprint } = session.connection;
  out.line(`logged in as ${chat.me} on ${server} (server key ${fingerprint})`);
  out.line("type /help for commands; /to NAME or /to NUMBER opens a conversation");
  for (const incoming of early.splice(0)) chat.receive(incoming);
  const leaving = new AbortController();
  const stayConnected = (current: Session, view: Chat) => {
    current.rpc.closed.then(async (reason) => {
      if (leaving.signal.aborted) return;
      view.online = false;
      out.line(`disconnected${reason ? `: ${reason.message}` : ""}; reconnecting…`);
      try {
        const next = await reconnect(
          () => sessionFor(options, password, "login", onIncoming),
          leaving.signal,
          (error, nextInMs) =>
            out.line(`reconnecting failed: ${error.message}; next try in ${nextInMs / 1000} s`),
        );
        if (!next) return;
        current.close();
        view.session = next;
        view.online = true;
        out.line(`reconnected to ${next.connection.server}`);
        stayConnected(next, view);
        await view.flushOutbox();
      } catch (error) {
        out.error(error);
        screen.close(); // the password stopped working: nothing left to do here
      }
    });
  };
  stayConnected(session, chat);
  screen.prompt();
  try {
    // Texts left in the outbox by an earlier session go out first.
    await chat.flushOutbox();
    for await (const input of screen.inputs()) {
      try {
        if (await handle(chat, input) === "quit") break;
      } catch (error) {
        out.error(error);
      }
      screen.prompt();
    }
  } finally {
    leaving.abort();
    screen.close();
    chat.session.close();
    book.close();
  }
}

/** One input: a command, or a message for the open conversation ("//" sends a leading "/"). */
async function handle(chat: Chat, input: string): Promise<void | "quit"> {
  if (input.trim() === "") return;
  if (input.startsWith("//")) return await chat.sendText(input.slice(1));
  if (input.startsWith("/")) return await runChatCommand(chat, input);
  await chat.sendText(input);
}
