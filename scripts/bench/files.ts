/**
 * File transfer throughput on loopback, every party its own process: the
 * upload leg (`ssp-client send-file` until the server has committed every
 * chunk), the download leg (`ssp-client get-file` until every chunk verified
 * and the file is in place), and a live transfer (a logged-in recipient that
 * fetches as soon as the file is announced, while the sender uploads; timed
 * from upload start to download verified). Beside them, in the same run and on
 * the same file: `scp -c aes128-gcm@openssh.com` through a private sshd and a
 * raw TLS 1.3 upload (`openssl s_client` → `s_server`). Peak RSS is each
 * process's VmHWM from /proc (the server's is reset before every leg).
 *
 * The ssp times leave out process start-up and the scrypt login: they run from
 * the CLI's progress start (after login) to its final `done` event, which the
 * CLI prints with `--json`. The whole command's wall time is reported too.
 *
 * Also measures the storage choice: 256 KiB chunks in one file with fsync per
 * commit vs SQLite blobs.
 *
 * Run with `deno task bench files`, or alone with `deno run --allow-net
 * --allow-read --allow-write --allow-env --allow-run scripts/bench/files.ts`.
 * `SSP_BENCH_FILE_MIB` sets the file size (default 1024), `SSP_BENCH_RUNS` the
 * rounds (default 1; medians are reported).
 *
 * @module
 */
import { join } from "node:path";
import { createHash, randomFillSync } from "node:crypto";
import { DEFAULT_CHUNK_BYTES } from "../../lib/e2e/mod.ts";
import { type AnchorResult, ScpAnchor, TlsAnchor } from "./_anchors.ts";
import { measureBlobStores } from "./_blob_store.ts";
import { Proc } from "./_procs.ts";
import { startServerProcess } from "./_server.ts";
import { median } from "./_sample.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DENO = Deno.execPath();
/** What the server and the clients may do. */
const PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
];
const RUN = ["run", ...PERMISSIONS];
const SENDER = "+12015550101";
const RECIPIENT = "+12015550102";
const PASSWORD = "bench password, not secret";
const MIB = 2 ** 20;

/** Goals from issue 4. */
const LEG_GOAL = 1.5;
const LIVE_GOAL = 1.2;
const RSS_GOAL_MIB = 100;

interface SspLeg {
  /** Transfer time without start-up and login (progress start to `done`). */
  seconds: number;
  /** The whole command, start-up and login included. */
  wallSeconds: number;
  serverPeakMiB: number;
  /** Peak of the client (the sender in the live transfer) once logged in, and over its life. */
  clientPeakMiB: number;
  clientLifetimePeakMiB: number;
  /** The recipient's peaks, for the live transfer. */
  recipientPeakMiB?: number;
  recipientLifetimePeakMiB?: number;
  /** User + system CPU seconds of each process over the transfer (clients: after login). */
  cpuSeconds: { server: number; client: number; recipient?: number };
}

interface Round {
  scp: AnchorResult | null;
  tls: AnchorResult | null;
  upload: SspLeg;
  download: SspLeg;
  live: SspLeg;
}

/** Everything the server and the two accounts need. */
interface Setup {
  dir: string;
  server: Proc;
  address: string;
  source: string;
  sourceHash: string;
  size: number;
}

function clientDir(setup: Setup, account: string): string {
  return join(setup.dir, `client-${account.slice(1)}`);
}

/** `deno run … client.ts COMMAND` for `account`. */
function clientArgs(setup: Setup, command: string[], account: string): string[] {
  return [
    ...RUN,
    join(ROOT, "client.ts"),
    ...command,
    "--phone",
    account,
    "--data",
    clientDir(setup, account),
    "--server",
    setup.address,
  ];
}

const clientEnv = { SSP_PASSWORD: PASSWORD, NO_COLOR: "1" };

async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { create: true, write: true, truncate: true });
  const block = new Uint8Array(16 * MIB);
  for (let done = 0; done < size;) {
    const piece = block.subarray(0, Math.min(block.length, size - done));
    randomFillSync(piece);
    hash.update(piece);
    let written = 0;
    while (written < piece.length) written += await file.write(piece.subarray(written));
    done += piece.length;
  }
  return hash.digest("hex");
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const block = new Uint8Array(16 * MIB);
  for (;;) {
    const n = await file.read(block);
    if (n === null) break;
    hash.update(block.subarray(0, n));
  }
  return hash.digest("hex");
}

/** The `done` event and the result line of a finished `--json` transfer command. */
function finished(
  proc: Proc,
): { done: { at: number; seconds: number }; result: Record<string, unknown> } {
  const events = proc.json();
  const done = events.find((e) => e.value.event === "done");
  const result = events.find((e) => typeof e.value.type === "string");
  if (!done || !result) throw new Error(`no done event or result; stdout: ${proc.lines.length}`);
  return {
    done: { at: done.at, seconds: Number(done.value.elapsedSeconds) },
    result: result.value,
  };
}

/**
 * Resets the client's peak at its first progress event (about a second into the
 * transfer), so that it is the transfer's: login runs scrypt with 128 MiB
 * (N = 2^17, r = 8) before it.
 */
function peakAfterLogin(proc: Proc): void {
  proc.waitFor((line) => line.includes('"event":"progress"'))
    .then(() => proc.resetPeak())
    .catch(() => {/* exited first: the peak stays the lifetime one */});
}

async function uploadLeg(setup: Setup): Promise<{ leg: SspLeg; fileId: string }> {
  await setup.server.resetPeak();
  const sender = new Proc(
    DENO,
    clientArgs(setup, ["send-file", "--to", RECIPIENT, setup.source, "--json"], SENDER),
    { env: clientEnv },
  );
  peakAfterLogin(sender);
  const exit = await sender.success();
  const { done, result } = finished(sender);
  const start = done.at - done.seconds * 1000;
  return {
    fileId: String(result.fileId),
    leg: {
      seconds: done.seconds,
      wallSeconds: (exit.at - sender.startedAt) / 1000,
      serverPeakMiB: setup.server.peakMiB,
      clientPeakMiB: sender.peakMiB,
      clientLifetimePeakMiB: sender.lifetimePeakMiB,
      cpuSeconds: {
        server: setup.server.cpuSecondsBetween(start, done.at),
        client: sender.cpuSecondsBetween(start, done.at),
      },
    },
  };
}

async function downloadLeg(setup: Setup, fileId: string, out: string): Promise<SspLeg> {
  await setup.server.resetPeak();
  const recipient = new Proc(
    DENO,
    clientArgs(setup, ["get-file", fileId, "--out", out, "--json"], RECIPIENT),
    { env: clientEnv },
  );
  peakAfterLogin(recipient);
  const exit = await recipient.success();
  const { done, result } = finished(recipient);
  const start = done.at - done.seconds * 1000;
  await checkCopy(setup, String(result.path));
  return {
    seconds: done.seconds,
    wallSeconds: (exit.at - recipient.startedAt) / 1000,
    serverPeakMiB: setup.server.peakMiB,
    clientPeakMiB: recipient.peakMiB,
    clientLifetimePeakMiB: recipient.lifetimePeakMiB,
    cpuSeconds: {
      server: setup.server.cpuSecondsBetween(start, done.at),
      client: recipient.cpuSecondsBetween(start, done.at),
    },
  };
}

async function liveTransfer(setup: Setup, out: string): Promise<SspLeg> {
  await setup.server.resetPeak();
  const recipient = new Proc(DENO, [
    ...RUN,
    join(ROOT, "scripts/bench/_transfer_child.ts"),
    setup.address,
    clientDir(setup, RECIPIENT),
    RECIPIENT,
    out,
  ], { env: clientEnv });
  await recipient.waitFor((line) => line.includes('"ready"'));
  await recipient.resetPeak(); // logged in: scrypt is done
  const sender = new Proc(
    DENO,
    clientArgs(setup, ["send-file", "--to", RECIPIENT, setup.source, "--json"], SENDER),
    { env: clientEnv },
  );
  peakAfterLogin(sender);
  await Promise.all([sender.success(), recipient.success()]);
  const { done } = finished(sender);
  // The sender's progress clock starts after its login; place that start on our clock.
  const uploadStart = done.at - done.seconds * 1000;
  const events = recipient.json();
  const verified = events.find((e) => e.value.event === "verified");
  if (!verified) throw new Error(`live recipient: ${recipient.stderr}`);
  await checkCopy(setup, String(verified.value.path));
  return {
    seconds: (verified.at - uploadStart) / 1000,
    wallSeconds: (verified.at - sender.startedAt) / 1000,
    serverPeakMiB: setup.server.peakMiB,
    clientPeakMiB: sender.peakMiB,
    clientLifetimePeakMiB: sender.lifetimePeakMiB,
    recipientPeakMiB: recipient.peakMiB,
    recipientLifetimePeakMiB: recipient.lifetimePeakMiB,
    cpuSeconds: {
      server: setup.server.cpuSecondsBetween(uploadStart, verified.at),
      client: sender.cpuSecondsBetween(uploadStart, verified.at),
      recipient: recipient.cpuSecondsBetween(uploadStart, verified.at),
    },
  };
}

async function checkCopy(setup: Setup, path: string): Promise<void> {
  const hash = await sha256File(path);
  await Deno.remove(path);
  if (hash !== setup.sourceHash) throw new Error(`${path} differs from the source`);
}

function fixed(n: number, digits = 0): string {
  return n.toFixed(digits);
}

/** Runs the benchmark and returns its Markdown section. */
export async function run(): Promise<string> {
  const mib = Number(Deno.env.get("SSP_BENCH_FILE_MIB") ?? 1024);
  const rounds = Number(Deno.env.get("SSP_BENCH_RUNS") ?? 1);
  if (!(mib > 0) || !Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError("SSP_BENCH_FILE_MIB must be > 0 and SSP_BENCH_RUNS a whole number ≥ 1");
  }
  const size = Math.round(mib * MIB);
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-files-" });
  let scp: ScpAnchor | string = "not started";
  let setup: Setup | undefined;
  try {
    const source = join(dir, "random.bin");
    const sourceHash = await writeRandomFile(source, size);
    scp = await ScpAnchor.start(join(dir, "sshd"));
    const tls = await TlsAnchor.start(join(dir, "tls"));
    const { proc: server, address } = await startServerProcess({
      dataDir: join(dir, "server"),
      denoFlags: PERMISSIONS,
    });
    setup = { dir, server, address, source, sourceHash, size };
    const loginStart = performance.now();
    for (const account of [SENDER, RECIPIENT]) {
      await new Proc(DENO, clientArgs(setup, ["register", "--json"], account), { env: clientEnv })
        .success();
    }
    const registerSeconds = (performance.now() - loginStart) / 2000;
    const results: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      const out = join(dir, "out");
      const scpResult = typeof scp === "string" ? null : await scp.upload(source);
      const tlsResult = typeof tls === "string" ? null : await tls.upload(source);
      const { leg: upload, fileId } = await uploadLeg(setup);
      const download = await downloadLeg(setup, fileId, out);
      const live = await liveTransfer(setup, out);
      results.push({ scp: scpResult, tls: tlsResult, upload, download, live });
    }
    const blobs = await measureBlobStores(dir, size, DEFAULT_CHUNK_BYTES);
    return report(setup, results, blobs, {
      registerSeconds,
      scpNote: typeof scp === "string" ? scp : null,
      tlsNote: typeof tls === "string" ? tls : null,
    });
  } finally {
    await setup?.server.stop();
    if (typeof scp !== "string") await scp.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function report(
  setup: Setup,
  rounds: Round[],
  blobs: Awaited<ReturnType<typeof measureBlobStores>>,
  notes: { registerSeconds: number; scpNote: string | null; tlsNote: string | null },
): string {
  const mib = setup.size / MIB;
  const rate = (seconds: number) => mib / seconds;
  const med = (pick: (r: Round) => number | undefined) => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  // scp's rate without its connection set-up: the stricter anchor for legs timed after login.
  const scpRate = med((r) => r.scp ? rate(r.scp.seconds - (r.scp.setupSeconds ?? 0)) : undefined);
  const scpWallRate = med((r) => (r.scp ? rate(r.scp.seconds) : undefined));
  const scpDurableRate = med((r) =>
    r.scp?.durableSeconds ? rate(r.scp.durableSeconds - (r.scp.setupSeconds ?? 0)) : undefined
  );
  const tlsRate = med((r) => (r.tls ? rate(r.tls.seconds) : undefined));
  const ratio = (value: number, goal: number) =>
    scpRate === undefined
      ? "—"
      : `${(value / scpRate).toFixed(2)}× (goal ${goal}×${value / scpRate >= goal ? ", met" : ""})`;
  const rss = (value: number | undefined, lifetime?: number) =>
    value === undefined
      ? "—"
      : `${fixed(value, 1)}${value > RSS_GOAL_MIB ? " ⚠" : ""}${
        lifetime === undefined ? "" : ` (${fixed(lifetime)})`
      }`;
  const cpu = (pick: (r: Round) => SspLeg) => {
    const parts = [
      med((x) => pick(x).cpuSeconds.server),
      med((x) => pick(x).cpuSeconds.client),
      med((x) => pick(x).cpuSeconds.recipient),
    ].filter((v): v is number => v !== undefined);
    const total = parts.reduce((a, b) => a + b, 0);
    return `${parts.map((v) => v.toFixed(1)).join(" + ")} = ${total.toFixed(1)}`;
  };
  const rows: string[] = [];
  const legRow = (name: string, pick: (r: Round) => SspLeg, goal: number) => {
    const r = med((x) => rate(pick(x).seconds))!;
    rows.push(
      `| ${name} | ${fixed(r)} | ${fixed(med((x) => rate(pick(x).wallSeconds))!)} | ${
        ratio(r, goal)
      } | ${rss(med((x) => pick(x).serverPeakMiB))} | ${
        rss(med((x) => pick(x).clientPeakMiB), med((x) => pick(x).clientLifetimePeakMiB))
      } | ${
        rss(med((x) => pick(x).recipientPeakMiB), med((x) => pick(x).recipientLifetimePeakMiB))
      } | ${cpu(pick)} |`,
    );
  };
  legRow("ssp upload leg (send-file → committed)", (r) => r.upload, LEG_GOAL);
  legRow("ssp download leg (get-file → verified)", (r) => r.download, LEG_GOAL);
  legRow("ssp live, end to end", (r) => r.live, LIVE_GOAL);
  const lines = [
    `## File transfer, ${fixed(mib)} MiB random file, loopback`,
    "",
    `${rounds.length} round(s), medians. Each ssp party is its own \`deno run\` process; MiB/s counts plaintext MiB.`,
    "",
    "| transfer | MiB/s | MiB/s incl. start-up + login | vs scp | server RSS MiB | sender (or client) RSS MiB | recipient RSS MiB | CPU s: server + client (+ recipient) |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ...rows,
    scpRate === undefined
      ? `| scp -c aes128-gcm (sshd) | — (${notes.scpNote}) | | | | | | |`
      : `| scp -c aes128-gcm (sshd), set-up excluded | ${fixed(scpRate)} | ${
        fixed(scpWallRate!)
      } | 1.00× | | | | |`,
    ...(scpDurableRate === undefined ? [] : [
      `| scp, then \`sync -d\` of the copy (durable, as ssp's legs), set-up excluded | ${
        fixed(scpDurableRate)
      } | | ${(scpDurableRate / scpRate!).toFixed(2)}× | | | | |`,
    ]),
    tlsRate === undefined
      ? `| TLS 1.3 s_client → s_server | — (${notes.tlsNote}) | | | | | | |`
      : `| TLS 1.3 s_client → s_server (AES-256-GCM) | ${fixed(tlsRate)} | | ${
        scpRate ? (tlsRate / scpRate).toFixed(2) + "×" : "—"
      } | ${rss(med((r) => r.tls?.serverPeakMiB))} | | | |`,
    "",
    `ssp times run from the CLI's progress start (after login) to its \`done\` event; the live time from the sender's progress start to the recipient's verified file (the recipient logged in beforehand). Registering an account took ${
      fixed(notes.registerSeconds, 2)
    } s per CLI call (start-up + scrypt). scp set-up (an empty-file copy) took ${
      med((r) => r.scp?.setupSeconds)?.toFixed(2) ?? "—"
    } s. Client RSS is the peak once logged in, then in brackets the peak over the whole process, login included (scrypt, N = 2^17, r = 8, takes 128 MiB). The server's peak is reset before each leg. CPU is user + system time of each process over the timed interval (sampled every 20 ms; the box has ${navigator.hardwareConcurrency} cores, so a transfer of T seconds has at most ${navigator.hardwareConcurrency}·T CPU seconds). RSS goal: ≤ ${RSS_GOAL_MIB} MiB per process (⚠ marks a miss).`,
    "",
    `### Chunk storage: ${fixed(mib)} MiB of ${
      DEFAULT_CHUNK_BYTES / 1024
    } KiB chunks, commit every 16`,
    "",
    "| store | write MiB/s | read MiB/s |",
    "| --- | ---: | ---: |",
    ...blobs.map((b) => `| ${b.store} | ${fixed(b.writeMiBs)} | ${fixed(b.readMiBs)} |`),
    "",
  ];
  return lines.join("\n");
}

if (import.meta.main) console.log(await run());
