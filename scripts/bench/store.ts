/**
 * Embedded store append throughput under group commit: N concurrent
 * submitters each append one envelope (~300-byte body, one recipient), await
 * its durable ack, then send the next. Reports envelopes/s, commits/s (one
 * transaction and one WAL fsync each), mean batch size and mean ack latency.
 *
 * Run with `deno task bench store`, or alone with
 * `deno run --allow-read --allow-write --allow-env scripts/bench/store.ts`.
 *
 * @module
 */
import { join } from "node:path";
import { SqliteStore } from "../../lib/store/sqlite.ts";

const CONCURRENCY = [1, 16, 256, 1024] as const;
/** Each cell runs for about this long. */
const CELL_MS = 3000;
const BODY_BYTES = 300;

interface Cell {
  concurrency: number;
  envelopes: number;
  seconds: number;
  commits: number;
  latencyMs: number;
}

async function measure(concurrency: number): Promise<Cell> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-store-" });
  const store = SqliteStore.open(join(dir, "ssp.db"));
  const body = crypto.getRandomValues(new Uint8Array(BODY_BYTES));
  let envelopes = 0;
  let latencyTotal = 0;
  try {
    const start = performance.now();
    const until = start + CELL_MS;
    await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
      const sender = `+1555${String(worker).padStart(7, "0")}`;
      const recipient = "+15559999999";
      for (let i = 0; performance.now() < until; i++) {
        const sent = performance.now();
        await store.appendEnvelopes([{
          sender,
          clientId: `c${i}`,
          recipients: [recipient],
          conversation: `${sender},${recipient}`,
          body,
        }]);
        latencyTotal += performance.now() - sent;
        envelopes++;
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    return {
      concurrency,
      envelopes,
      seconds,
      commits: store.flushes,
      latencyMs: latencyTotal / envelopes,
    };
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function format(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Runs every cell and returns the results as a Markdown section. */
export async function run(): Promise<string> {
  const rows: string[] = [];
  for (const concurrency of CONCURRENCY) {
    const c = await measure(concurrency);
    rows.push(
      `| ${c.concurrency} | ${format(c.envelopes / c.seconds)} | ${
        format(c.commits / c.seconds)
      } | ${format(c.envelopes / c.commits, 1)} | ${format(c.latencyMs, 2)} |`,
    );
  }
  return [
    "## Store: appendEnvelopes with group commit",
    "",
    `SqliteStore (WAL, synchronous=FULL), one envelope per call, ${BODY_BYTES}-byte body, one ` +
    `recipient; each submitter awaits its ack before sending the next; ~${
      CELL_MS / 1000
    } s per row.`,
    "",
    "| submitters | envelopes/s | commits/s | mean batch | mean ack latency (ms) |",
    "| ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  console.log(await run());
}
