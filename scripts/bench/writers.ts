/**
 * Several MongoStores appending to one FerretDB database at once (the
 * writers of several ssp-servers), against one store alone: 384 submitters
 * in all, spread over the stores, each appending one envelope (300-byte
 * body) and awaiting its ack before the next, for 3 s. Shows what claiming
 * seqs by insert and taking turns cost (docs/mongodb.md).
 *
 * Run with `deno task bench writers`, or alone with
 * `deno run -A scripts/bench/writers.ts` (`SSP_BENCH_MONGO_URL` measures another MongoDB).
 *
 * @module
 */
import { dropDatabase, startFerretDb } from "../ferretdb.ts";
import { MongoStore } from "../../lib/store/mongo.ts";

const SUBMITTERS = 384;
const SECONDS = 3;

async function measure(url: string, stores: number): Promise<string> {
  const dbName = `bench_writers_${stores}_${Date.now().toString(36)}`;
  const opened = await Promise.all(
    Array.from({ length: stores }, () => MongoStore.connect(url, { dbName })),
  );
  try {
    const latencies: number[] = [];
    let next = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      opened.flatMap((store, s) =>
        Array.from({ length: SUBMITTERS / stores }, async (_, k) => {
          while (performance.now() < end) {
            const started = performance.now();
            await store.appendEnvelopes([{
              sender: `+1201555${String(s * 1000 + k).padStart(4, "0")}`,
              clientId: `m${next++}`,
              recipients: ["+12015550000"],
              conversation: "bench",
              body: new Uint8Array(300),
            }]);
            latencies.push(performance.now() - started);
          }
        })
      ),
    );
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(0.99 * (latencies.length - 1))]!;
    return `| ${stores} | ${Math.round(latencies.length / SECONDS).toLocaleString("en")} | ${
      opened.map((s) => s.flushes).join(" : ")
    } | ${opened.reduce((n, s) => n + s.seqCollisions, 0)} | ${p99.toFixed(0)} |`;
  } finally {
    for (const store of opened) await store.close();
    await dropDatabase(url, dbName);
  }
}

/** Measures 1, 2 and 3 stores in one run; returns a Markdown section. */
export async function run(): Promise<string> {
  const external = Deno.env.get("SSP_BENCH_MONGO_URL");
  const ferret = external ? null : await startFerretDb();
  const rows = [];
  try {
    for (const n of [1, 2, 3]) rows.push(await measure(external ?? ferret!.url, n));
  } finally {
    await ferret?.stop();
  }
  return [
    "## Several writers on one database",
    "",
    `${SUBMITTERS} submitters spread over the stores, one 300-byte envelope each at a time, ${SECONDS} s.`,
    "",
    "| stores | envelopes/s | batches per store | seq collisions | p99 latency (ms) |",
    "| ---: | ---: | --- | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) console.log(await run());
