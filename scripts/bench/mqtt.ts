/**
 * Messages through one server with durable acknowledgements, against
 * mosquitto with QoS 1, in the same run and driven the same way
 * (scripts/bench/_load.ts): the same number of connections, messages and
 * payload bytes, the same window of unacknowledged messages per connection,
 * clients in this process and the server in its own.
 *
 * - ssp: a real `ssp-server` process (embedded store); each sender sends
 *   pre-sealed envelopes to one offline recipient, and a message counts when its
 *   acknowledgement (the envelope durably committed) arrives.
 * - mosquitto: a private instance on a free port (temp config and persistence
 *   directory); an offline subscriber with a persistent session and QoS 1, so
 *   the broker queues every message for it as ssp stores every envelope; each
 *   publisher (`npm:mqtt`, MQTT 3.1.1) publishes with QoS 1, and a message
 *   counts when its PUBACK arrives.
 *
 * Each peer runs twice: as fast as acknowledgements come back (peak rate), then
 * at half that peak rate for a fixed time, recording the latency from each
 * message's scheduled send time to its acknowledgement (p50, p99).
 *
 * Run with `deno task bench mqtt`, or alone with `deno run -A scripts/bench/mqtt.ts`.
 * Environment: `SSP_BENCH_MESSAGES` (messages per connection at peak, default 2500),
 * `SSP_BENCH_LATENCY_SECONDS` (length of the half-rate run, default 5),
 * `SSP_BENCH_MOSQUITTO` (the broker binary, default /usr/sbin/mosquitto).
 *
 * @module
 */
import { join } from "node:path";
import type { Session } from "../../lib/client/mod.ts";
import mqtt from "mqtt";
import {
  type LatencyResult,
  ownCpuSeconds,
  paced,
  peak,
  type PeakResult,
  type Send,
} from "./_load.ts";
import { freePort, Proc } from "./_procs.ts";
import { median } from "./_sample.ts";
import {
  IN_FLIGHT_PER_SENDER,
  prepare,
  RECIPIENT,
  sender,
  SENDERS,
  startServer,
  user,
} from "./messages.ts";

const TOPIC = "ssp/bench";

/** One peer's figures. */
interface PeerResult {
  peak: PeakResult;
  latency: LatencyResult;
  /** CPU seconds of the server process during the peak run. */
  serverCpu: number;
  /** CPU seconds of this (client) process during the peak run. */
  clientCpu: number;
}

/** Peak run, then a half-rate run, measuring CPU of the server process and of this one. */
async function drive(
  server: Proc,
  sends: Send[],
  perSender: number,
  latencyPerSender: (peak: PeakResult) => Promise<{ sends: Send[]; perSender: number }>,
): Promise<PeerResult> {
  const cpuStart = ownCpuSeconds();
  const from = performance.now();
  const top = await peak(sends, perSender, IN_FLIGHT_PER_SENDER);
  const to = performance.now();
  const clientCpu = ownCpuSeconds() - cpuStart;
  // Let the CPU sampler (every 20 ms) see the end of the run.
  await new Promise((r) => setTimeout(r, 100));
  const serverCpu = server.cpuSecondsBetween(from, to);
  const half = await latencyPerSender(top);
  const latency = await paced(
    half.sends,
    half.perSender,
    top.perSecond / 2,
    IN_FLIGHT_PER_SENDER,
  );
  return { peak: top, latency, serverCpu, clientCpu };
}

/** ssp: returns the figures and the median envelope size (the payload size mosquitto gets). */
async function measureSsp(
  perSender: number,
  latencySeconds: number,
): Promise<{ result: PeerResult; payload: number }> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-mqtt-" });
  const { proc, address } = await startServer(join(dir, "server"));
  try {
    const recipient = await user(address, RECIPIENT, dir);
    recipient.close(); // offline: everything is stored for later delivery
    const sessions: Session[] = [];
    for (let i = 0; i < SENDERS; i++) sessions.push(await user(address, `+1201555030${i}`, dir));
    const queues = await Promise.all(sessions.map((s) => prepare(s, perSender)));
    const payload = median(queues.flat().map((p) => p.envelope.length));
    const result = await drive(
      proc,
      sessions.map((s, i) => sender(s, queues[i]!)),
      perSender,
      async (top) => {
        const count = Math.max(1, Math.round(top.perSecond / 2 * latencySeconds / SENDERS));
        const more = await Promise.all(sessions.map((s) => prepare(s, count)));
        return { sends: sessions.map((s, i) => sender(s, more[i]!)), perSender: count };
      },
    );
    for (const s of sessions) s.close();
    return { result, payload };
  } finally {
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A private mosquitto on a free port, or why it cannot start. */
async function startMosquitto(dir: string): Promise<{ proc: Proc; url: string } | string> {
  const binary = Deno.env.get("SSP_BENCH_MOSQUITTO") ?? "/usr/sbin/mosquitto";
  try {
    await Deno.stat(binary);
  } catch {
    return `${binary} not found (apt-get install mosquitto, or set SSP_BENCH_MOSQUITTO)`;
  }
  const port = freePort();
  const config = join(dir, "mosquitto.conf");
  await Deno.writeTextFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      // Queue for offline persistent sessions, and save to disk (on its autosave timer and at exit).
      "persistence true",
      `persistence_location ${dir}/`,
      "max_queued_messages 0", // no limit: keep every message, as ssp does
      "max_queued_bytes 0",
      // As root, mosquitto would switch to the `mosquitto` user, which cannot write the temp dir.
      ...(Deno.uid?.() === 0 ? ["user root"] : []),
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
      "log_type information", // the "running" line
      "",
    ].join("\n"),
  );
  const proc = new Proc(binary, ["-c", config]);
  for (let i = 0; i < 200; i++) {
    if (/ running/.test(proc.stderr)) return { proc, url: `mqtt://127.0.0.1:${port}` };
    await new Promise((r) => setTimeout(r, 25));
  }
  await proc.stop();
  return `mosquitto did not start:\n${proc.stderr}`;
}

async function measureMosquitto(
  perSender: number,
  latencySeconds: number,
  payloadBytes: number,
): Promise<PeerResult | string> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-mosquitto-" });
  const started = await startMosquitto(dir);
  if (typeof started === "string") return started;
  const { proc, url } = started;
  const options = { protocolVersion: 4 as const, reconnectPeriod: 0 };
  const clients: mqtt.MqttClient[] = [];
  try {
    // The offline recipient: a persistent session subscribed with QoS 1, then gone.
    const recipient = await mqtt.connectAsync(url, {
      ...options,
      clientId: "ssp-bench-recipient",
      clean: false,
    });
    await recipient.subscribeAsync(TOPIC, { qos: 1 });
    await recipient.endAsync();
    for (let i = 0; i < SENDERS; i++) {
      clients.push(await mqtt.connectAsync(url, { ...options, clientId: `ssp-bench-${i}` }));
    }
    const payload = new Uint8Array(payloadBytes);
    crypto.getRandomValues(payload);
    const sends = clients.map((client): Send => async () => {
      await client.publishAsync(TOPIC, payload as Buffer, { qos: 1 });
    });
    return await drive(
      proc,
      sends,
      perSender,
      (top) =>
        Promise.resolve({
          sends,
          perSender: Math.max(1, Math.round(top.perSecond / 2 * latencySeconds / SENDERS)),
        }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})));
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function row(label: string, r: PeerResult): string {
  const perK = (seconds: number) => (seconds / r.peak.messages * 1000 * 1000).toFixed(0);
  return `| ${label} | ${r.peak.messages} | ${
    Math.round(r.peak.perSecond).toLocaleString("en")
  } | ${perK(r.serverCpu)} | ${perK(r.clientCpu)} | ${
    Math.round(r.latency.achieved).toLocaleString("en")
  } | ${r.latency.p50.toFixed(1)} | ${r.latency.p99.toFixed(1)} |`;
}

/** Measures ssp and mosquitto in one run; returns a Markdown section. */
export async function run(): Promise<string> {
  const perSender = Number(Deno.env.get("SSP_BENCH_MESSAGES") ?? 2500);
  const latencySeconds = Number(Deno.env.get("SSP_BENCH_LATENCY_SECONDS") ?? 5);
  const ssp = await measureSsp(perSender, latencySeconds);
  const mosquitto = await measureMosquitto(perSender, latencySeconds, ssp.payload);
  const rows = [row("ssp (embedded store, durable ack)", ssp.result)];
  const notes = [];
  if (typeof mosquitto === "string") {
    notes.push(`mosquitto unavailable: ${mosquitto}`);
  } else {
    rows.push(row("mosquitto 2 QoS 1 (PUBACK)", mosquitto));
    notes.push(
      `**ssp / mosquitto: ${
        (ssp.result.peak.perSecond / mosquitto.peak.perSecond).toFixed(2)
      }× the acknowledged messages/s** (goal ≥ 1.0×); server CPU per message ${
        // CPU time comes in clock ticks (10 ms): a short run may not see mosquitto's.
        mosquitto.serverCpu > 0
          ? `${(ssp.result.serverCpu / mosquitto.serverCpu).toFixed(1)}×`
          : "(too short a run to compare)"} mosquitto's; ssp p99 at half its peak rate ${
        ssp.result.latency.p99.toFixed(1)
      } ms (goal ≤ 20 ms).`,
    );
  }
  return [
    "## Messages through one server: ssp vs mosquitto QoS 1",
    "",
    `${SENDERS} connections × ${IN_FLIGHT_PER_SENDER} unacknowledged messages each, ${perSender} messages per`,
    `connection at peak, payload ${ssp.payload} bytes (an ssp envelope; mosquitto gets random bytes of that size),`,
    "one offline recipient (ssp: stored envelope; mosquitto: persistent QoS 1 session). Then",
    `${latencySeconds} s at half the peak rate: latency from each message's scheduled time to its ack.`,
    "CPU is user + system time per 1000 messages during the peak run.",
    "",
    "| peer | messages | acked msg/s (peak) | server CPU ms / 1000 msg | client CPU ms / 1000 msg | msg/s at half rate | p50 ms | p99 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    ...notes,
    "",
  ].join("\n");
}

if (import.meta.main) console.log(await run());
