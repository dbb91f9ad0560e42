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
import { BODY_BYTES, CELL_MS, CONCURRENCY, format, measure, openSqlite } from "./_appends.ts";

/** Runs every cell and returns the results as a Markdown section. */
export async function run(): Promise<string> {
  const rows: string[] = [];
  for (const concurrency of CONCURRENCY) {
    const c = await measure(concurrency, openSqlite);
    rows.push(
      `| ${c.concurrency} | ${format(c.envelopes / c.seconds)} | ${
        format(c.batches / c.seconds)
      } | ${format(c.envelopes / c.batches, 1)} | ${format(c.latencyMs, 2)} |`,
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
