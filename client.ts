/**
 * `ssp-client`: the terminal client. This file only parses arguments and
 * wires the library together; see lib/client/.
 *
 * @module
 */
import { Command, Option } from "commander";
import { DEFAULT_PORT } from "./lib/address.ts";
import { connect } from "./lib/client/connect.ts";
import { defaultClientDataDir } from "./lib/client/paths.ts";
import { ping } from "./lib/client/ping.ts";
import { GROUP_NAMES, type WireGroupName } from "./lib/handshake/mod.ts";
import { Output } from "./lib/ui/output.ts";

function connectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--server <host:port>", "server to connect to")
        .env("SSP_SERVER").default(`127.0.0.1:${DEFAULT_PORT}`),
    )
    .addOption(
      new Option("--data <dir>", "client data dir (pinned server keys, account keys)")
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

function count(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) {
    throw new TypeError(`--count must be a whole number from 1 to 1000000, got "${text}"`);
  }
  return n;
}

const program = new Command("ssp-client")
  .description("ssp terminal client: end-to-end encrypted messages and files")
  .showHelpAfterError();

connectionOptions(
  program.command("ping")
    .description("connect, verify the server's key, and measure the round-trip time")
    .addOption(new Option("--count <n>", "pings to send").default(1).argParser(count)),
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
          seq: i,
          rttMs: Number(rtt.toFixed(3)),
        },
        `pong from ${server}: seq=${i} time=${
          rtt.toFixed(2)
        } ms  key ${fingerprint} (${channel.session.group.name})`,
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
