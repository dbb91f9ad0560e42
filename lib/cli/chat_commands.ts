/**
 * The slash commands of the interactive session, as a table: each entry
 * has its usage, one line of help and what it does.
 *
 * @module
 */
import { deleteFile, getFile, listFiles, sendFile } from "../client/mod.ts";
import { SspError } from "../errors.ts";
import type { Progress } from "../ui/mod.ts";
import type { Chat } from "./chat.ts";
import { verifyInSession } from "./commands.ts";
import { contactLine, fileLine, timeOfDay } from "./format.ts";
import { closest } from "./suggest.ts";

/** One slash command. */
export interface ChatCommand {
  /** Its name, without the slash. */
  name: string;
  /** Arguments, as shown in /help. */
  usage: string;
  help: string;
  /** Runs it with the rest of the line (trimmed). Returns "quit" to leave. */
  run(chat: Chat, args: string): Promise<void | "quit"> | void | "quit";
}

/** Messages /history shows when no count is given. */
const DEFAULT_HISTORY = 20;

/** Most messages /history shows at once. */
const MAX_HISTORY = 1000;

function needConversation(chat: Chat): string[] {
  if (!chat.current.length) {
    throw new SspError("no_conversation", "no conversation is open", {
      hint: "open one with /to NAME or /to NUMBER",
    });
  }
  return chat.current;
}

function words(args: string): string[] {
  return args.split(/\s+/).filter(Boolean);
}

/** Every slash command, in the order /help lists them. */
export const CHAT_COMMANDS: readonly ChatCommand[] = [
  {
    name: "to",
    usage: "[NAME|NUMBER[,…]]",
    help: "open a conversation (and show its latest messages); alone: which one is open",
    async run(chat, args) {
      if (args === "") {
        chat.out.line(
          chat.current.length
            ? `talking to ${chat.current.map((p) => `${chat.nameOf(p)} (${p})`).join(", ")}`
            : "no conversation is open; /to NAME or /to NUMBER opens one",
        );
        return;
      }
      await chat.open(args.split(",").map((w) => w.trim()).filter(Boolean));
    },
  },
  {
    name: "history",
    usage: "[N]",
    help: `show the last N messages of the open conversation (default ${DEFAULT_HISTORY})`,
    async run(chat, args) {
      needConversation(chat);
      const n = args === "" ? DEFAULT_HISTORY : Number(args);
      if (!Number.isInteger(n) || n < 1 || n > MAX_HISTORY) {
        throw new RangeError(`/history takes a whole number from 1 to ${MAX_HISTORY}`);
      }
      await chat.showHistory(n);
    },
  },
  {
    name: "chats",
    usage: "",
    help: "list conversations, the most recent first, with unread counts",
    run(chat) {
      const chats = chat.book.chats();
      if (chats.length === 0) return chat.out.line("no conversations yet");
      for (const c of chats) {
        const unread = c.unread ? `  ${c.unread} unread` : "";
        const open = c.members.join(",") === chat.current.join(",") ? "  (open)" : "";
        chat.out.line(`${timeOfDay(c.lastAt)}  ${chat.label(c.members)}${unread}${open}`);
      }
    },
  },
  {
    name: "name",
    usage: "NUMBER [NAME]",
    help: "call NUMBER by NAME here (kept on this machine only); no NAME: forget it",
    run(chat, args) {
      const [number, ...rest] = words(args);
      if (!number) throw new TypeError("usage: /name NUMBER NAME");
      const phone = chat.resolve(number);
      const name = rest.join(" ");
      chat.book.setName(phone, name);
      chat.out.line(name ? `${phone} is now called ${name.trim()}` : `${phone} has no name now`);
      chat.updatePrompt();
    },
  },
  {
    name: "send-file",
    usage: "PATH",
    help: "send a file to the open conversation",
    async run(chat, path) {
      const to = needConversation(chat);
      const progress = chat.out.progress(
        path.split("/").pop() ?? path,
        (await Deno.stat(path)).size,
      );
      try {
        const sent = await sendFile(chat.session, path, to, (done) => progress.update(done));
        progress.finish();
        chat.out.line(`sent ${sent.name} (file ${sent.fileId.slice(0, 8)})`);
      } catch (error) {
        progress.fail(error as Error);
        throw error;
      }
    },
  },
  {
    name: "files",
    usage: "",
    help: "list files sent and received",
    async run(chat) {
      const files = await listFiles(chat.session);
      if (files.length === 0) return chat.out.line("no files yet");
      for (const file of files) chat.out.line(fileLine(file, chat.me, chat.nameOf));
    },
  },
  {
    name: "get",
    usage: "ID [DIR]",
    help: "fetch a file (by the id /files shows) into DIR (default .)",
    async run(chat, args) {
      const [id = "", dir = "."] = words(args);
      let progress: Progress | undefined;
      try {
        const got = await getFile(chat.session, id, dir, (done, total) => {
          progress ??= chat.out.progress(id, total);
          progress.update(done);
        });
        progress?.finish();
        chat.out.line(`saved ${got.path}${got.entry.verified ? "" : "  ⚠ UNVERIFIED sender key"}`);
      } catch (error) {
        progress?.fail(error as Error);
        throw error;
      }
    },
  },
  {
    name: "delete",
    usage: "ID",
    help: "delete a file you sent from the server (frees your quota)",
    async run(chat, args) {
      const deleted = await deleteFile(chat.session, words(args)[0] ?? "");
      chat.out.line(`deleted ${deleted.name} (file ${deleted.fileId.slice(0, 8)}) from the server`);
    },
  },
  {
    name: "contacts",
    usage: "",
    help: "list contacts and whether their keys are trusted",
    run(chat) {
      const contacts = chat.session.state.contacts();
      if (contacts.length === 0) return chat.out.line("no contacts yet");
      for (const c of contacts) chat.out.line(contactLine(c, chat.book.nameOf(c.phone)));
    },
  },
  {
    name: "verify",
    usage: "NAME|NUMBER",
    help: "show the safety number to compare with a contact",
    async run(chat, args) {
      await verifyInSession(chat.session, chat.resolve(args), false, chat.out);
    },
  },
  {
    name: "accept",
    usage: "NAME|NUMBER",
    help: "trust a contact's changed key (after comparing safety numbers)",
    async run(chat, args) {
      await verifyInSession(chat.session, chat.resolve(args), true, chat.out);
    },
  },
  {
    name: "bell",
    usage: "[on|off]",
    help: "ring the terminal bell for messages outside the open conversation (on by default)",
    run(chat, args) {
      if (args !== "" && args !== "on" && args !== "off") {
        throw new TypeError("usage: /bell on, /bell off, or /bell to switch");
      }
      chat.bell = args === "" ? !chat.bell : args === "on";
      chat.out.line(`bell ${chat.bell ? "on" : "off"}`);
    },
  },
  {
    name: "help",
    usage: "",
    help: "this list",
    run(chat) {
      chat.out.line(helpText());
    },
  },
  { name: "quit", usage: "", help: "leave (Ctrl-D works too)", run: () => "quit" },
];

/** The /help text. */
export function helpText(): string {
  const rows = CHAT_COMMANDS.map((c) => [`/${c.name}${c.usage ? ` ${c.usage}` : ""}`, c.help]);
  const width = Math.max(...rows.map(([u]) => u!.length)) + 2;
  return [
    "commands:",
    ...rows.map(([usage, help]) => `  ${usage!.padEnd(width)}${help}`),
    "anything else is sent to the open conversation; end a line with \\ to go on to the next",
  ].join("\n");
}

/** Runs a line starting with "/"; "quit" when the session should end. */
export async function runChatCommand(chat: Chat, line: string): Promise<void | "quit"> {
  const match = /^\/(\S*)\s*([\s\S]*)$/.exec(line.trim())!;
  const name = match[1]!.toLowerCase();
  const command = CHAT_COMMANDS.find((c) => c.name === name) ??
    (name === "exit" ? CHAT_COMMANDS.find((c) => c.name === "quit") : undefined);
  if (!command) {
    const guess = closest(name, CHAT_COMMANDS.map((c) => c.name));
    throw new SspError("unknown_command", `unknown command /${name}`, {
      hint: `${guess ? `did you mean /${guess}? ` : ""}/help lists them`,
    });
  }
  return await command.run(chat, match[2]!.trim());
}
