/**
 * `ssp-server`: the relay and store. This file only parses arguments and
 * wires the library together; see lib/server/.
 *
 * @module
 */
import { Command, Option } from "commander";
import {
  aeadBackend,
  fingerprint,
  MAX_PRIME_BITS,
  MIN_PRIME_BITS,
  preferredSuites,
} from "./lib/crypto/mod.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from "./lib/channel/mod.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./lib/wire/mod.ts";
import { DEFAULT_PORT } from "./lib/address.ts";
import {
  createLogger,
  DEFAULT_FFDH_MS_PER_ADDRESS,
  DEFAULT_FFDH_MS_PER_SECOND,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_LOGIN_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_DOWNLOADS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_PRELOGIN_FRAME_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_SESSIONS_PER_ACCOUNT,
  DEFAULT_MESSAGE_QUOTA_BYTES,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_QUOTA_BYTES,
  DEFAULT_REGISTRATIONS_PER_ADDRESS,
  DEFAULT_REGISTRATIONS_PER_HOUR,
  DEFAULT_SEND_RATE,
  DEFAULT_THROTTLE_ENTRIES,
  DEFAULT_UPLOAD_LEASE_MS,
  DEFAULT_WRITE_TIMEOUT_MS,
  generateDhParamFile,
  loadIdentity,
  loadOrCreateIdentity,
  loadServerGroups,
  type LogFormat,
  openServerStores,
  startServer,
} from "./lib/server/mod.ts";
import { MAX_ENVELOPE_BYTES, MAX_ENVELOPE_BYTES_CEILING } from "./lib/protocol/mod.ts";
import { integerFlag, Output } from "./lib/ui/mod.ts";
import { SspError } from "./lib/errors.ts";

const DEFAULT_DATA_DIR = "./ssp-data";

function dataOption(): Option {
  return new Option("--data <dir>", "server data dir (identity key, store)")
    .env("SSP_DATA").default(DEFAULT_DATA_DIR);
}

/**
 * `--data` of a subcommand. It has neither default nor environment variable
 * of its own (the main command's apply), so that `ssp-server --data DIR
 * fingerprint` (the flag before the subcommand) and `ssp-server fingerprint
 * --data DIR` both name DIR, whatever SSP_DATA says.
 */
function subcommandDataOption(): Option {
  return new Option(
    "--data <dir>",
    `server data dir (default: $SSP_DATA, else ${DEFAULT_DATA_DIR})`,
  );
}

/** The data dir a subcommand uses: its own `--data`, else the main command's. */
function dataDirOf(options: { data?: string }): string {
  return options.data ?? program.opts().data;
}

/** A yes/no environment variable: 1/true/yes, 0/false/no or unset/empty (no). */
function envFlag(name: string): boolean {
  const value = (Deno.env.get(name) ?? "").trim().toLowerCase();
  if (["", "0", "false", "no"].includes(value)) return false;
  if (["1", "true", "yes"].includes(value)) return true;
  throw new SspError("bad_option", `${name} must be 1 or 0 (true/false, yes/no), got "${value}"`);
}

const program = new Command("ssp-server")
  .description("ssp relay and store: end-to-end encrypted messages and files over TCP")
  .addOption(
    new Option("--port <port>", "TCP port to listen on (0 picks a free one)")
      .env("SSP_PORT").default(DEFAULT_PORT).argParser(integerFlag("--port", 0, 65535)),
  )
  .addOption(
    new Option("--host <address>", "address to listen on").env("SSP_HOST").default("127.0.0.1"),
  )
  .addOption(dataOption())
  .addOption(
    new Option(
      "--mongo <url>",
      "keep accounts, messages and files in MongoDB (mongodb://HOST:PORT/DB) instead of the data dir",
    ).env("SSP_MONGO_URL"),
  )
  .addOption(
    new Option(
      "--bus <url>",
      "NATS server(s) linking ssp-servers that share one --mongo database, for live delivery " +
        "between them (nats://HOST:4222[,nats://…])",
    ).env("SSP_BUS_URL"),
  )
  .addOption(
    new Option(
      "--poll-interval <ms>",
      "with --mongo: how often each logged-in user's mailbox is read anyway (messages from " +
        "other servers whose bus signal was lost)",
    ).env("SSP_POLL_INTERVAL_MS").default(DEFAULT_POLL_INTERVAL_MS)
      .argParser(integerFlag("--poll-interval", 100, 3_600_000)),
  )
  .addOption(
    new Option(
      "--reuse-port",
      "let several ssp-server processes listen on one port (Linux SO_REUSEPORT; needs --mongo; " +
        "env SSP_REUSE_PORT=1)",
    ),
  )
  .addOption(
    new Option(
      "--groups <list>",
      "key-agreement groups to accept, best first (x25519, ffdhe2048, ffdhe3072, ffdhe4096, custom); " +
        "default: custom first if `dhparam` made one, then x25519 and the RFC 7919 groups",
    ).env("SSP_GROUPS"),
  )
  .addOption(
    new Option("--max-frame-bytes <n>", "largest frame accepted from a client")
      .env("SSP_MAX_FRAME_BYTES").default(DEFAULT_MAX_FRAME_BYTES)
      .argParser(integerFlag("--max-frame-bytes", 64, 16 * 1024 * 1024)),
  )
  .addOption(
    new Option("--handshake-timeout <ms>", "time a client has to finish the handshake")
      .env("SSP_HANDSHAKE_TIMEOUT_MS").default(DEFAULT_HANDSHAKE_TIMEOUT_MS)
      .argParser(integerFlag("--handshake-timeout", 100, 600_000)),
  )
  .addOption(
    new Option("--idle-timeout <ms>", "close connections that send nothing for this long")
      .env("SSP_IDLE_TIMEOUT_MS").default(DEFAULT_IDLE_TIMEOUT_MS)
      .argParser(integerFlag("--idle-timeout", 1000, 24 * 3600_000)),
  )
  .addOption(
    new Option("--max-connections <n>", "most simultaneous connections")
      .env("SSP_MAX_CONNECTIONS").default(DEFAULT_MAX_CONNECTIONS)
      .argParser(integerFlag("--max-connections", 1, 1_000_000)),
  )
  .addOption(
    new Option(
      "--max-connections-per-address <n>",
      "most simultaneous connections from one address (IPv6: one /64)",
    )
      .env("SSP_MAX_CONNECTIONS_PER_ADDRESS").default(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)
      .argParser(integerFlag("--max-connections-per-address", 1, 1_000_000)),
  )
  .addOption(
    new Option("--login-timeout <ms>", "time a client has from connecting to a completed login")
      .env("SSP_LOGIN_TIMEOUT_MS").default(DEFAULT_LOGIN_TIMEOUT_MS)
      .argParser(integerFlag("--login-timeout", 100, 3600_000)),
  )
  .addOption(
    new Option("--max-prelogin-frame-bytes <n>", "largest frame accepted before login")
      .env("SSP_MAX_PRELOGIN_FRAME_BYTES").default(DEFAULT_MAX_PRELOGIN_FRAME_BYTES)
      .argParser(integerFlag("--max-prelogin-frame-bytes", 8 * 1024, 16 * 1024 * 1024)),
  )
  .addOption(
    new Option(
      "--max-queued-bytes <n>",
      "bytes waiting for a slow reader past which its deliveries and requests pause",
    )
      .env("SSP_MAX_QUEUED_BYTES").default(DEFAULT_MAX_QUEUED_BYTES)
      .argParser(integerFlag("--max-queued-bytes", 64 * 1024, 1024 * 1024 * 1024)),
  )
  .addOption(
    new Option(
      "--write-timeout <ms>",
      "drop a client that reads nothing for this long while data waits",
    )
      .env("SSP_WRITE_TIMEOUT_MS").default(DEFAULT_WRITE_TIMEOUT_MS)
      .argParser(integerFlag("--write-timeout", 100, 3600_000)),
  )
  .addOption(
    new Option(
      "--max-sessions-per-account <n>",
      "most connections logged in to one account; a new login closes the oldest",
    )
      .env("SSP_MAX_SESSIONS_PER_ACCOUNT").default(DEFAULT_MAX_SESSIONS_PER_ACCOUNT)
      .argParser(integerFlag("--max-sessions-per-account", 1, 10_000)),
  )
  .addOption(
    new Option("--max-downloads <n>", "file downloads one connection may run at once")
      .env("SSP_MAX_DOWNLOADS").default(DEFAULT_MAX_DOWNLOADS)
      .argParser(integerFlag("--max-downloads", 1, 10_000)),
  )
  .addOption(
    new Option(
      "--ffdh-ms-per-second <ms>",
      "CPU time per second all clients together may spend on finite-field key agreement " +
        "(ffdhe*, custom); x25519 is not rationed",
    )
      .env("SSP_FFDH_MS_PER_SECOND").default(DEFAULT_FFDH_MS_PER_SECOND)
      .argParser(integerFlag("--ffdh-ms-per-second", 0, 1000)),
  )
  .addOption(
    new Option(
      "--ffdh-ms-per-address <ms>",
      "CPU time per second one client address may spend on finite-field key agreement",
    )
      .env("SSP_FFDH_MS_PER_ADDRESS").default(DEFAULT_FFDH_MS_PER_ADDRESS)
      .argParser(integerFlag("--ffdh-ms-per-address", 0, 1000)),
  )
  .addOption(
    new Option("--max-message-bytes <n>", "largest message (encrypted envelope) accepted")
      .env("SSP_MAX_MESSAGE_BYTES").default(MAX_ENVELOPE_BYTES)
      .argParser(integerFlag("--max-message-bytes", 1024, MAX_ENVELOPE_BYTES_CEILING)),
  )
  .addOption(
    new Option("--max-file-bytes <n>", "largest file accepted (encrypted size)")
      .env("SSP_MAX_FILE_BYTES").default(DEFAULT_MAX_FILE_BYTES)
      .argParser(integerFlag("--max-file-bytes", 1024, Number.MAX_SAFE_INTEGER)),
  )
  .addOption(
    new Option("--quota-bytes <n>", "storage quota per account (all its files)")
      .env("SSP_QUOTA_BYTES").default(DEFAULT_QUOTA_BYTES)
      .argParser(integerFlag("--quota-bytes", 0, Number.MAX_SAFE_INTEGER)),
  )
  .addOption(
    new Option(
      "--upload-lease-ms <ms>",
      "with --mongo: how long an upload's claim on its file outlives a server that died holding it",
    ).env("SSP_UPLOAD_LEASE_MS").default(DEFAULT_UPLOAD_LEASE_MS)
      .argParser(integerFlag("--upload-lease-ms", 1000, 3_600_000)),
  )
  .addOption(
    new Option(
      "--message-quota-bytes <n>",
      "storage per account for its messages (kept as history, so this is a lifetime total)",
    ).env("SSP_MESSAGE_QUOTA_BYTES").default(DEFAULT_MESSAGE_QUOTA_BYTES)
      .argParser(integerFlag("--message-quota-bytes", 0, Number.MAX_SAFE_INTEGER)),
  )
  .addOption(
    new Option("--send-rate <n>", "messages one account may send per minute (and in one burst)")
      .env("SSP_SEND_RATE").default(DEFAULT_SEND_RATE)
      .argParser(integerFlag("--send-rate", 1, 1_000_000_000)),
  )
  .addOption(
    new Option("--registrations-per-address <n>", "new accounts one IP address may create per hour")
      .env("SSP_REGISTRATIONS_PER_ADDRESS").default(DEFAULT_REGISTRATIONS_PER_ADDRESS)
      .argParser(integerFlag("--registrations-per-address", 1, 1_000_000_000)),
  )
  .addOption(
    new Option("--registrations-per-hour <n>", "new accounts per hour from all addresses together")
      .env("SSP_REGISTRATIONS_PER_HOUR").default(DEFAULT_REGISTRATIONS_PER_HOUR)
      .argParser(integerFlag("--registrations-per-hour", 1, 1_000_000_000)),
  )
  .addOption(
    new Option(
      "--login-throttle-entries <n>",
      "numbers, addresses and known-device numbers each login throttle table remembers",
    ).env("SSP_LOGIN_THROTTLE_ENTRIES").default(DEFAULT_THROTTLE_ENTRIES)
      .argParser(integerFlag("--login-throttle-entries", 1, 100_000_000)),
  )
  .addOption(
    new Option("--log-format <format>", "log lines for people or machines")
      .env("SSP_LOG_FORMAT").choices(["text", "json"]).default("text"),
  )
  // A subcommand's flags belong to it: without this, `fingerprint --data DIR`
  // would set the main command's --data and leave the subcommand's default.
  .enablePositionalOptions()
  .showHelpAfterError()
  .action(async (options) => {
    const log = createLogger(options.logFormat as LogFormat, (line) => console.error(line));
    options.reusePort ||= envFlag("SSP_REUSE_PORT");
    for (const flag of ["bus", "reusePort"] as const) {
      if (options[flag] && !options.mongo) {
        throw new SspError(
          "bad_option",
          `--${flag === "bus" ? "bus" : "reuse-port"} needs --mongo: servers that share ` +
            "users must share one store",
          { hint: "give every server the same --mongo URL (see docs/scaling.md)" },
        );
      }
    }
    const identity = await loadOrCreateIdentity(options.data);
    const groups = await loadServerGroups(options.data, options.groups);
    const { store, files, shared, sharedRegistrations, messageUsage } = await openServerStores(
      options.data,
      options.mongo,
    );
    const bus = options.bus
      ? await (await import("./lib/bus/nats.ts")).NatsBus.connect(options.bus)
      : null;
    const server = startServer({
      ...(options.mongo ? { cluster: { bus, pollIntervalMs: options.pollInterval } } : {}),
      reusePort: Boolean(options.reusePort),
      store,
      files,
      maxFileBytes: options.maxFileBytes,
      quotaBytes: options.quotaBytes,
      uploadLeaseMs: options.uploadLeaseMs,
      maxEnvelopeBytes: options.maxMessageBytes,
      messageQuotaBytes: options.messageQuotaBytes,
      ...(messageUsage ? { messageUsage } : {}),
      sendRate: options.sendRate,
      accountLimits: {
        throttleEntries: options.loginThrottleEntries,
        registrationsPerAddress: options.registrationsPerAddress,
        registrationsPerHour: options.registrationsPerHour,
        ...(shared ? { shared } : {}),
        ...(sharedRegistrations ? { sharedRegistrations } : {}),
      },
      idleTimeoutMs: options.idleTimeout,
      hostname: options.host,
      port: options.port,
      identity,
      groups,
      maxFrameBytes: options.maxFrameBytes,
      handshakeTimeoutMs: options.handshakeTimeout,
      maxConnections: options.maxConnections,
      maxConnectionsPerAddress: options.maxConnectionsPerAddress,
      loginTimeoutMs: options.loginTimeout,
      maxPreloginFrameBytes: options.maxPreloginFrameBytes,
      maxQueuedBytes: options.maxQueuedBytes,
      writeTimeoutMs: options.writeTimeout,
      maxSessionsPerAccount: options.maxSessionsPerAccount,
      maxDownloads: options.maxDownloads,
      ffdhMsPerSecond: options.ffdhMsPerSecond,
      ffdhMsPerAddress: options.ffdhMsPerAddress,
      log,
    });
    const aead = aeadBackend().info;
    log({
      event: "crypto",
      backend: aead.name,
      detail: aead.detail,
      hardware_aes: aead.hardwareAes,
      suites: preferredSuites().join(","),
    });
    log({
      event: "listening",
      host: options.host,
      port: server.port,
      fingerprint: server.fingerprint,
      identity: identity.created ? "created" : "loaded",
      groups: groups.map((g) => g.name).join(","),
      store: options.mongo ? "mongodb" : "embedded",
      ...(options.mongo ? { bus: options.bus ? "nats" : "none" } : {}),
    });
    const stop = () => {
      log({ event: "shutting_down" });
      server.shutdown();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    await server.finished;
    await bus?.close();
    await store.close();
    await files.close();
    log({ event: "stopped" });
  });

program.command("fingerprint")
  .description("print the server's identity key fingerprint, for clients to compare")
  .addOption(subcommandDataOption())
  .option("--json", "print JSON")
  .action(async (options) => {
    const out = new Output(Boolean(options.json));
    const identity = await loadIdentity(dataDirOf(options));
    const fp = fingerprint(identity.publicKey);
    out.result({ fingerprint: fp }, fp);
  });

program.command("dhparam")
  .description(
    "generate a Diffie-Hellman group (safe prime p = 2q+1, generator g) that the server then offers",
  )
  .addOption(
    new Option("--bits <n>", "size of the prime p").default(2048)
      .argParser(integerFlag("--bits", MIN_PRIME_BITS, MAX_PRIME_BITS)),
  )
  .addOption(subcommandDataOption())
  .option("--json", "print JSON")
  .action(async (options) => {
    const out = new Output(Boolean(options.json));
    const result = await generateDhParamFile(
      dataDirOf(options),
      options.bits,
      (note) => out.note(note),
    );
    out.result(
      { path: result.path, bits: options.bits, seconds: result.seconds },
      `wrote ${result.path} (${options.bits}-bit safe prime, ${result.seconds.toFixed(1)} s); ` +
        "restart the server to offer it",
    );
  });

program.command("migrate")
  .description(
    "copy accounts, messages and files from one store into an empty one: a data dir into MongoDB, or back",
  )
  .requiredOption("--from <dir|url>", "source: an embedded data dir or a mongodb:// URL")
  .requiredOption("--to <dir|url>", "destination (must be empty): a data dir or a mongodb:// URL")
  .option("--json", "print JSON")
  .action(async (options) => {
    const out = new Output(Boolean(options.json));
    const { migrateStore, openStoreDump } = await import("./lib/store/mod.ts");
    const from = await openStoreDump(options.from, { existing: true });
    try {
      const to = await openStoreDump(options.to);
      try {
        const report = await migrateStore(from, to);
        const mib = (report.fileBytes / 2 ** 20).toFixed(1);
        out.result(
          { ...report },
          `copied ${report.accounts} accounts, ${report.envelopes} envelopes, ${report.cursors} ` +
            `delivery cursors and ${report.files} ${
              report.files === 1 ? "file" : "files"
            } (${mib} MiB); ` +
            "counts and SHA-256 digests " +
            `verified (envelopes ${report.digests.envelopes.slice(0, 16)}…, files ${
              report.digests.files.slice(0, 16)
            }…)`,
        );
      } finally {
        await to.close();
      }
    } finally {
      await from.close();
    }
  });

try {
  await program.parseAsync(Deno.args, { from: "user" });
} catch (error) {
  Deno.exit(new Output(Deno.args.includes("--json")).error(error));
}
