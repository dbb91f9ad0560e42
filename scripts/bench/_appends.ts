/**
 * The append-throughput measurement shared by `store.ts` and `mongo.ts`: N
 * concurrent submitters each append one envelope (~300-byte body, one
 * recipient), await its durable ack, then send the next.
 *
 * @module
 */
import { join } from "node:path";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import type { Store } from "../../lib/store/types.ts";

/** Submitter counts measured. */
export const CONCURRENCY = [1, 16, 256, 1024] as const;
/** Each cell runs for about this long. */
export const CELL_MS = 3000;
/** Envelope body size. */
export const BODY_BYTES = 300;

/** One measured cell. */
export interface Cell {
  concurrency: number;
  envelopes: number;
  seconds: number;
  /** Commits: SQLite transactions or MongoDB insertMany calls. */
  batches: number;
  latencyMs: number;
}

/** A store under test, with its batch counter and how to dispose of it. */
export interface Subject {
  store: Store & { readonly flushes: number };
  dispose(): Promise<void>;
}

/** Appends for CELL_MS with `concurrency` submitters on a store from `open`. */
export async function measure(concurrency: number, open: () => Promise<Subject>): Promise<Cell> {
  const { store, dispose } = await open();
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
      batches: store.flushes,
      latencyMs: latencyTotal / envelopes,
    };
  } finally {
    await dispose();
  }
}

/** A fresh embedded store in a temporary directory. */
export async function openSqlite(): Promise<Subject> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-store-" });
  const store = SqliteStore.open(join(dir, "ssp.db"));
  return {
    store,
    async dispose() {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A number with thousands separators and `digits` decimals. */
export function format(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}
