/**
 * The two candidate buses for signals between servers, with their official
 * clients: NATS (`@nats-io/transport-node`, 127.0.0.1:4222) and Redis pub/sub
 * (`redis`, 127.0.0.1:6379), both on their standard ports as our machines
 * run them. One publisher and one subscriber connection each: 1,000 signals
 * one at a time (round trip), then 20,000 published back to back (rate).
 *
 * Run with `deno task bench bus`, or alone with `deno run -A scripts/bench/bus.ts`.
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { createClient } from "redis";

const ROUND_TRIPS = 1000;
const BURST = 20_000;
const PAYLOAD = "+12015550101";

interface Link {
  publish(): void;
  close(): Promise<void>;
}

/** Measures one bus, given a function that connects a publisher and a subscriber calling `onSignal`. */
async function measure(name: string, open: (onSignal: () => void) => Promise<Link>) {
  let waiting: (() => void) | null = null;
  let received = 0;
  const link = await open(() => {
    received++;
    waiting?.();
  });
  try {
    const latencies: number[] = [];
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const arrived = new Promise<void>((resolve) => waiting = resolve);
      const start = performance.now();
      link.publish();
      await arrived;
      latencies.push(performance.now() - start);
    }
    received = 0;
    const all = new Promise<void>((resolve) => waiting = () => received >= BURST && resolve());
    const start = performance.now();
    for (let i = 0; i < BURST; i++) link.publish();
    await all;
    const rate = BURST / ((performance.now() - start) / 1000);
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.floor(q * (latencies.length - 1))]!.toFixed(3);
    return `| ${name} | ${at(0.5)} | ${at(0.99)} | ${Math.round(rate).toLocaleString("en")} |`;
  } finally {
    await link.close();
  }
}

async function nats(onSignal: () => void): Promise<Link> {
  const [pub, sub] = await Promise.all([1, 2].map(() => connect({ servers: "127.0.0.1:4222" })));
  const subject = `ssp-bench.${crypto.randomUUID()}`;
  sub!.subscribe(subject, { callback: onSignal });
  await sub!.flush();
  return {
    publish: () => pub!.publish(subject, PAYLOAD),
    close: async () => {
      await pub!.close();
      await sub!.close();
    },
  };
}

async function redis(onSignal: () => void): Promise<Link> {
  const pub = createClient({ url: "redis://127.0.0.1:6379" });
  const sub = pub.duplicate();
  await pub.connect();
  await sub.connect();
  const channel = `ssp-bench.${crypto.randomUUID()}`;
  await sub.subscribe(channel, onSignal);
  return {
    publish: () => void pub.publish(channel, PAYLOAD),
    close: async () => {
      await pub.quit();
      await sub.quit();
    },
  };
}

/** Measures both; returns a Markdown section. */
export async function run(): Promise<string> {
  return [
    "## Buses: NATS and Redis pub/sub",
    "",
    `${ROUND_TRIPS} signals one at a time, then ${BURST} back to back, one publisher and one`,
    "subscriber connection on 127.0.0.1.",
    "",
    "| bus | round trip p50 (ms) | p99 (ms) | signals/s, one publisher |",
    "| --- | ---: | ---: | ---: |",
    await measure("NATS (`@nats-io/transport-node`)", nats),
    await measure("Redis pub/sub (`redis`)", redis),
    "",
  ].join("\n");
}

if (import.meta.main) console.log(await run());
