/**
 * The load driver the message benchmarks share, so that ssp and its anchor
 * (mosquitto) are driven the same way: a few connections, each with a fixed
 * window of unacknowledged messages, either as fast as the acknowledgements
 * come back (peak rate) or at a fixed rate (acknowledgement latency).
 *
 * A connection is a {@linkcode Send}: it sends its `i`-th prepared message and
 * resolves when the acknowledgement arrives.
 *
 * @module
 */
import process from "node:process";

/** Sends a connection's `i`-th prepared message; resolves on its acknowledgement. */
export type Send = (i: number) => Promise<void>;

/** Result of a closed-loop run. */
export interface PeakResult {
  messages: number;
  seconds: number;
  /** Acknowledged messages per wall-clock second. */
  perSecond: number;
}

/**
 * Sends `perSender` messages on each connection, keeping `window` unacknowledged
 * on each at all times (closed loop): the peak acknowledged rate.
 */
export async function peak(
  senders: Send[],
  perSender: number,
  window: number,
): Promise<PeakResult> {
  const start = performance.now();
  await Promise.all(senders.map(async (send) => {
    let next = 0;
    const worker = async () => {
      while (next < perSender) await send(next++);
    };
    await Promise.all(Array.from({ length: Math.min(window, perSender) }, worker));
  }));
  const seconds = (performance.now() - start) / 1000;
  const messages = senders.length * perSender;
  return { messages, seconds, perSecond: messages / seconds };
}

/** Result of an open-loop run at a fixed rate. */
export interface LatencyResult {
  /** The rate asked for, messages/s. */
  rate: number;
  messages: number;
  /** Acknowledged messages per wall-clock second, as achieved. */
  achieved: number;
  /** Milliseconds from each message's scheduled send time to its acknowledgement. */
  p50: number;
  p99: number;
  max: number;
}

/**
 * Sends `perSender` messages on each connection at a fixed total `rate`
 * (messages/s, round robin over the connections), at most `window`
 * unacknowledged per connection. Latency runs from the time a message was
 * scheduled, not when it went out, so a sender that falls behind (a late
 * timer, a full window) counts against the figure rather than hiding it.
 */
export async function paced(
  senders: Send[],
  perSender: number,
  rate: number,
  window: number,
): Promise<LatencyResult> {
  const total = senders.length * perSender;
  const latencies: number[] = [];
  const slots = senders.map(() => window);
  const waiting: (() => void)[][] = senders.map(() => []);
  const one = async (s: number, i: number, scheduled: number) => {
    if (slots[s]! > 0) slots[s]!--;
    else await new Promise<void>((resolve) => waiting[s]!.push(resolve));
    try {
      await senders[s]!(i);
    } finally {
      const next = waiting[s]!.shift();
      if (next) next(); // the slot passes straight on
      else slots[s]!++;
    }
    latencies.push(performance.now() - scheduled);
  };
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let k = 0;
  while (k < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * rate) + 1);
    for (; k < due; k++) {
      pending.push(
        one(k % senders.length, Math.floor(k / senders.length), start + k * 1000 / rate),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.max(0, Math.ceil(p * latencies.length) - 1)]!;
  return {
    rate,
    messages: total,
    achieved: total / seconds,
    p50: at(0.5),
    p99: at(0.99),
    max: at(1),
  };
}

/** User + system CPU seconds this process has used so far (all threads). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
