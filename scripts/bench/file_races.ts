/**
 * Parallel `file_begin` attacks against a real server, on the embedded store
 * and on MongoDB (FerretDB): two accounts racing for one new file id, round
 * after round, and one account beginning many 8 GiB files at once from as
 * many connections against its 32 GiB quota. Prints how many got through.
 *
 * Run with `deno task bench races`, or alone with
 * `deno run -A scripts/bench/file_races.ts [ROUNDS] [CONNECTIONS]`.
 *
 * @module
 */
import { newMessageId } from "../../lib/protocol/mod.ts";
import {
  ClientState,
  connect,
  login,
  Messenger,
  type PasswordKeys,
  register,
  RpcConnection,
} from "../../lib/client/mod.ts";
import { CHUNK_OVERHEAD, chunkCount, cipherSize, DEFAULT_CHUNK_BYTES } from "../../lib/e2e/mod.ts";
import { SspError } from "../../lib/errors.ts";
import { DEFAULT_MAX_FILE_BYTES, DEFAULT_QUOTA_BYTES } from "../../lib/server/mod.ts";
import { MongoStore } from "../../lib/store/mod.ts";
import { MongoFileStore } from "../../lib/store/mongo_files.ts";
import {
  startTestServer,
  tempDir,
  type TestServer,
  type TestServerOptions,
} from "../../tests/harness.ts";
import { startFerretDb, stopFerretDb } from "../ferretdb.ts";

const [A, B, C, D] = ["+12015550101", "+12015550102", "+12015550103", "+12015550104"];
const PASSWORD = "correct horse battery staple";

interface Client {
  rpc: RpcConnection;
  messenger: Messenger;
  close(): void;
}

async function open(server: TestServer, phone: string, keys: PasswordKeys | null) {
  const dataDir = await tempDir();
  const { channel } = await connect({ server: server.address, dataDir });
  const rpc = new RpcConnection(channel);
  const state = await ClientState.open(dataDir, phone);
  const passwordKeys = keys ?? await register(rpc, state, phone, PASSWORD);
  const account = await login(rpc, state, phone, passwordKeys);
  const client: Client = {
    rpc,
    messenger: new Messenger(rpc, state, account),
    close: () => (rpc.close(), state.close()),
  };
  return { client, keys: passwordKeys };
}

async function begin(
  client: Client,
  fileId: string,
  size: number,
): Promise<() => Promise<string>> {
  const messageId = newMessageId();
  const { envelope } = await client.messenger.seal([B], {
    kind: "file",
    fileId,
    name: "race.bin",
    size,
    chunkBytes: DEFAULT_CHUNK_BYTES,
    key: new Uint8Array(32),
  }, messageId);
  const request = {
    t: "file_begin" as const,
    fileId,
    cipherSize: cipherSize(size, DEFAULT_CHUNK_BYTES),
    chunkBytes: DEFAULT_CHUNK_BYTES + CHUNK_OVERHEAD,
    chunks: chunkCount(size, DEFAULT_CHUNK_BYTES),
    readers: [B],
    messageId,
    envelope,
  };
  return () =>
    client.rpc.request(request).then(
      () => "ready",
      (error) => error instanceof SspError ? error.code : String(error),
    );
}

async function measure(label: string, options: TestServerOptions, rounds: number, conns: number) {
  const server = await startTestServer(options);
  const opened: Client[] = [];
  try {
    const a = await open(server, A, null);
    opened.push(a.client, (await open(server, B, null)).client);
    const c = (await open(server, C, null)).client;
    opened.push(c);
    let both = 0;
    let one = 0;
    for (let round = 0; round < rounds; round++) {
      const fileId = newMessageId();
      const sends = [await begin(a.client, fileId, 1000), await begin(c, fileId, 1000)];
      const outcomes = await Promise.all(sends.map((send) => send()));
      const ready = outcomes.filter((o) => o === "ready").length;
      if (ready === 2) both++;
      if (ready === 1) one++;
    }
    // A fresh account, so the race's small files take none of its quota.
    const d = await open(server, D, null);
    const sessions: Client[] = [d.client];
    for (let i = 1; i < conns; i++) sessions.push((await open(server, D, d.keys)).client);
    opened.push(...sessions);
    const size = DEFAULT_MAX_FILE_BYTES - chunkCount(DEFAULT_MAX_FILE_BYTES, DEFAULT_CHUNK_BYTES) *
        CHUNK_OVERHEAD;
    const sends = await Promise.all(sessions.map((s) => begin(s, newMessageId(), size)));
    const outcomes = await Promise.all(sends.map((send) => send()));
    const accepted = outcomes.filter((o) => o === "ready").length;
    const fileBytes = cipherSize(size, DEFAULT_CHUNK_BYTES);
    const gib = (n: number) => (n / 1024 ** 3).toFixed(0);
    return `| ${label} | ${both} of ${rounds} | ${one} of ${rounds} | ${accepted} of ${conns} | ${
      gib(accepted * fileBytes)
    } GiB of ${gib(DEFAULT_QUOTA_BYTES)} GiB |`;
  } finally {
    for (const client of opened) client.close();
    await server.stop();
  }
}

/** Runs both stores and returns a Markdown section. */
export async function run(rounds = 300, conns = 50): Promise<string> {
  const rows = [await measure("embedded (SQLite)", {}, rounds, conns)];
  const ferret = await startFerretDb();
  try {
    const dbName = `ssp_races_${Date.now().toString(36)}`;
    const store = await MongoStore.connect(ferret.url, { dbName });
    const files = await MongoFileStore.connect(ferret.url, { dbName });
    try {
      rows.push(await measure("MongoDB (FerretDB)", { store, files }, rounds, conns));
    } finally {
      await store.close();
      await files.close();
    }
  } finally {
    await stopFerretDb(ferret);
  }
  return [
    "## Parallel file_begin",
    "",
    `Two accounts begin one new file id at once, ${rounds} rounds; one account begins ${conns} ` +
    "files of 8 GiB at once on as many connections (quota 32 GiB).",
    "",
    "| store | rounds both got file_ready | rounds exactly one did | 8 GiB begins accepted | reserved |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const [rounds, conns] = Deno.args.map(Number);
  console.log(await run(rounds || 300, conns || 50));
}
