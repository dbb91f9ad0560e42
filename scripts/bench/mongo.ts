/**
 * Append throughput of the MongoDB store on FerretDB next to the embedded
 * store, measured the same way as `store.ts`: N concurrent submitters each
 * append one envelope (~300-byte body, one recipient), await its durable
 * ack, then send the next. Reports envelopes/s, batches/s (one insertMany or
 * one SQLite transaction each), mean batch size and mean ack latency.
 *
 * Starts FerretDB with scripts/ferretdb.ts (building it on first use), or
 * uses the MongoDB at `SSP_BENCH_MONGO_URL` if set. Run alone with
 * `deno run --allow-net --allow-read --allow-write --allow-env --allow-run
 * --allow-sys=osRelease,uid scripts/bench/mongo.ts`.
 *
 * @module
 */
import { MongoStore } from "../../lib/store/mongo.ts";
import { dropDatabase, FERRETDB_VERSION, startFerretDb } from "../ferretdb.ts";
import {
  BODY_BYTES,
  type Cell,
  CELL_MS,
  CONCURRENCY,
  format,
  measure,
  openSqlite,
  type Subject,
} from "./_appends.ts";

let databases = 0;

function mongoOpener(url: string): () => Promise<Subject> {
  return async () => {
    const dbName = `ssp_bench_${Date.now().toString(36)}_${databases++}`;
    const store = await MongoStore.connect(url, { dbName });
    return {
      store,
      async dispose() {
        await store.close();
        await dropDatabase(url, dbName);
      },
    };
  };
}

function row(label: string, c: Cell): string {
  return `| ${label} | ${c.concurrency} | ${format(c.envelopes / c.seconds)} | ${
    format(c.batches / c.seconds)
  } | ${format(c.envelopes / c.batches, 1)} | ${format(c.latencyMs, 2)} |`;
}

/** Runs every cell on both stores and returns the results as a Markdown section. */
export async function run(): Promise<string> {
  const external = Deno.env.get("SSP_BENCH_MONGO_URL");
  const ferret = external ? null : await startFerretDb();
  const mongoLabel = external ? "MongoStore" : `MongoStore on FerretDB ${FERRETDB_VERSION}`;
  const rows: string[] = [];
  try {
    const openMongo = mongoOpener(external ?? ferret!.url);
    for (const concurrency of CONCURRENCY) {
      rows.push(row("SqliteStore", await measure(concurrency, openSqlite)));
      rows.push(row(mongoLabel, await measure(concurrency, openMongo)));
    }
  } finally {
    await ferret?.stop();
  }
  return [
    "## Store: appendEnvelopes on MongoDB (FerretDB) and on the embedded store",
    "",
    `One envelope per call, ${BODY_BYTES}-byte body, one recipient; each submitter awaits its ` +
    `ack before sending the next; ~${CELL_MS / 1000} s per row. A batch is one ordered ` +
    "insertMany (w: majority, j: true) for MongoStore, one transaction and WAL fsync for " +
    `SqliteStore.${
      external ? "" : " FerretDB runs on 127.0.0.1 on its SQLite backend in a temporary directory."
    }`,
    "",
    "| store | submitters | envelopes/s | batches/s | mean batch | mean ack latency (ms) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  console.log(await run());
}
