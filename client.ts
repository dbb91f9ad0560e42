/**
 * `ssp-client`: the terminal client. This file only parses arguments and
 * wires the library together; see lib/client/.
 *
 * @module
 */
import { Command, Option } from "commander";
import { DEFAULT_PORT } from "./lib/address.ts";
import {
  type AccountOptions,
  closest,
  contactsCommand,
  deleteFileCommand,
  filesCommand,
  getFileCommand,
  historyCommand,
  interactive,
  listenCommand,
  passwdCommand,
  registerCommand,
  sendCommand,
  sendFileCommand,
  shareFileCommand,
  verifyCommand,
} from "./lib/cli/mod.ts";
import { connect, defaultClientDataDir, ping } from "./lib/client/mod.ts";
import { SspError } from "./lib/errors.ts";
import { aeadBackend } from "./lib/crypto/mod.ts";
import { GROUP_NAMES, type WireGroupName } from "./lib/handshake/mod.ts";
import { MAX_HISTORY_PAGE } from "./lib/protocol/mod.ts";
import { integerFlag, Output } from "./lib/ui/mod.ts";
import { EXAMPLE_PHONE } from "./lib/phone.ts";

function connectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--server <host:port>", "server to connect to")
        .env("SSP_SERVER").default(`127.0.0.1:${DEFAULT_PORT}`),
    )
    .addOption(
      new Option("--data <dir>", "client data dir (pinned keys, contacts, encrypted account keys)")
        .env("SSP_CLIENT_DATA").default(defaultClientDataDir()),
    )
    .addOption(
      new Option(
        "--server-fingerprint <SHA256:...>",
        "expected server key fingerprint (from `ssp-server fingerprint`); pins it",
      ).env("SSP_SERVER_FINGERPRINT"),
    )
    .addOption(
      new Option("--group <name>", "offer only this key-agreement group").choices(GROUP_NAMES),
    )
    .option("--json", "print JSON lines instead of text");
}

function accountOptions(command: Command, phoneRequired = true): Command {
  const phone = new Option("--phone <number>", `your phone number, e.g. ${EXAMPLE_PHONE}`)
    .env("SSP_PHONE");
  if (phoneRequired) phone.makeOptionMandatory();
  return connectionOptions(command)
    .addOption(phone)
    .addOption(
      new Option("--region <CC>", "country for numbers written without +code, e.g. US")
        .env("SSP_REGION"),
    )
    .option(
      "--password-stdin",
      "read the password from the first line of standard input (or set SSP_PASSWORD)",
    );
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((v) => v.trim()).filter(Boolean)];
}

const program = new Command("ssp-client")
  .description(
    "ssp terminal client: end-to-end encrypted messages and files.\n" +
      "With --phone and no command, opens an interactive session.",
  )
  .enablePositionalOptions() // options after a command name belong to that command
  .showSuggestionAfterError()
  // Words and options that belong to no command reach the action below, which answers them
  // in two lines instead of a usage dump.
  .allowExcessArguments(true)
  .allowUnknownOption(true)
  .addHelpText(
    "after",
    `
Examples:
  ssp-client --phone +15551234567                      chat (type /help inside)
  ssp-client register --phone +15551234567             create your account
  ssp-client send --phone +15551234567 --to +15557654321 "see you at 8"
  ssp-client listen --phone +15551234567 --json        incoming messages for a script
  ssp-client help send                                 help on one command`,
  );

accountOptions(program, false).action(async (options, command: Command) => {
  const [word, topic] = command.args;
  if (word === "help") return helpOn(topic);
  if (word?.startsWith("-")) {
    throw new TypeError(`unknown option ${word}; ssp-client --help lists them`);
  }
  if (word !== undefined) throw unknownCommand(word);
  if (!options.phone) {
    program.help();
    return;
  }
  await interactive(options as AccountOptions);
});

/** `help [COMMAND]`: the help of one command, or of the whole program. */
function helpOn(name: string | undefined): void {
  if (name === undefined) return program.help();
  const command = program.commands.find((c) => c.name() === name);
  if (!command) throw unknownCommand(name);
  command.help();
}

/** An unknown command word, with the nearest real one when there is one. */
function unknownCommand(word: string): SspError {
  const names = program.commands.map((c) => c.name());
  const guess = closest(word, names);
  return new SspError("unknown_command", `unknown command "${word}"`, {
    hint: `${guess ? `did you mean "${guess}"? ` : ""}commands: ${names.join(", ")}; ` +
      "`ssp-client help COMMAND` explains one",
  });
}

accountOptions(program.command("register").description("create an account for --phone"))
  .action((options) => registerCommand(options, new Output(Boolean(options.json))));

accountOptions(
  program.command("send")
    .description("send a text message")
    .argument("<text...>", "the message")
    .requiredOption("--to <number>", "recipient (repeat or comma-separate for a group)", collect),
).action((text: string[], options) =>
  sendCommand(options, text.join(" "), new Output(Boolean(options.json)))
);

accountOptions(
  program.command("send-file")
    .description("send a file, end-to-end encrypted (resumes an interrupted upload)")
    .argument("<path>", "the file")
    .requiredOption(
      "--to <number>",
      "recipient (repeat or comma-separate: one upload for all)",
      collect,
    ),
).action((path: string, options) =>
  sendFileCommand(options, path, new Output(Boolean(options.json)))
);

accountOptions(
  program.command("share-file")
    .description("let more people fetch a file you sent, without uploading it again")
    .argument("<id>", "file id, or its first 6+ digits (see `files`)")
    .requiredOption("--to <number>", "recipient (repeat or comma-separate)", collect),
).action((id: string, options) => shareFileCommand(options, id, new Output(Boolean(options.json))));

accountOptions(
  program.command("delete-file")
    .description("delete a file you sent from the server (frees your quota)")
    .argument("<id>", "file id, or its first 6+ digits (see `files`)"),
).action((id: string, options) =>
  deleteFileCommand(options, id, new Output(Boolean(options.json)))
);

accountOptions(
  program.command("files").description("list files you sent and received, with their ids"),
)
  .action((options) => filesCommand(options, new Output(Boolean(options.json))));

accountOptions(
  program.command("get-file")
    .description("fetch a file by id (resumes an interrupted download)")
    .argument("<id>", "file id, or its first 6+ digits (see `files`)")
    .option("--out <dir>", "where to save it", "."),
).action((id: string, options) => getFileCommand(options, id, new Output(Boolean(options.json))));

accountOptions(
  program.command("history")
    .description("show a conversation's messages, oldest first")
    .requiredOption("--with <number>", "the other member(s) (repeat or comma-separate)", collect)
    .addOption(
      new Option("--limit <n>", "most messages").default(50)
        .argParser(integerFlag("--limit", 1, MAX_HISTORY_PAGE)),
    )
    .addOption(
      new Option("--before <seq>", "only messages before this seq")
        .argParser(integerFlag("--before", 0, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(
      new Option("--after <seq>", "only messages after this seq")
        .argParser(integerFlag("--after", 0, Number.MAX_SAFE_INTEGER)),
    ),
).action((options) => historyCommand(options, new Output(Boolean(options.json))));

accountOptions(
  program.command("listen")
    .description(
      "print incoming messages as they arrive (one JSON object per line with --json); " +
        "logs in again when the connection drops",
    )
    .option("--no-reconnect", "exit with an error when the connection drops instead"),
).action((options) => listenCommand(options, new Output(Boolean(options.json))));

accountOptions(program.command("contacts").description("list contacts and their key status"))
  .action((options) => contactsCommand(options, new Output(Boolean(options.json))));

accountOptions(
  program.command("verify")
    .description("show the safety number to compare with a contact")
    .argument("<number>", "the contact")
    .option("--accept", "trust the contact's changed key"),
).action((number: string, options) =>
  verifyCommand(options, number, new Output(Boolean(options.json)))
);

accountOptions(
  program.command("passwd").description(
    "change your password (new one from SSP_NEW_PASSWORD or a prompt)",
  ),
).action((options) => passwdCommand(options, new Output(Boolean(options.json))));

connectionOptions(
  program.command("ping")
    .description("connect, verify the server's key, and measure the round-trip time")
    .addOption(
      new Option("--count <n>", "pings to send").default(1).argParser(
        integerFlag("--count", 1, 1_000_000),
      ),
    ),
).action(async (options) => {
  const out = new Output(Boolean(options.json));
  const connection = await connect({
    server: options.server,
    dataDir: options.data,
    ...(options.serverFingerprint ? { serverFingerprint: options.serverFingerprint } : {}),
    ...(options.group ? { groups: [options.group as WireGroupName] } : {}),
  });
  const { channel, fingerprint, server } = connection;
  if (connection.pin === "first_use") {
    out.note(`pinned the key of ${server}: ${fingerprint} (first connection)`);
  }
  try {
    for (let i = 1; i <= options.count; i++) {
      const rtt = await ping(channel, i);
      out.result(
        {
          server,
          fingerprint,
          pin: connection.pin,
          group: channel.session.group.name,
          version: channel.session.version,
          suite: channel.session.suite,
          crypto: aeadBackend().info.detail,
          seq: i,
          rttMs: Number(rtt.toFixed(3)),
        },
        `pong from ${server}: seq=${i} time=${
          rtt.toFixed(2)
        } ms  key ${fingerprint} (${channel.session.group.name}, ${channel.session.suite}, ${aeadBackend().info.name})`,
      );
    }
  } finally {
    channel.close();
  }
});

try {
  await program.parseAsync(Deno.args, { from: "user" });
} catch (error) {
  Deno.exit(new Output(Deno.args.includes("--json")).error(error));
}
