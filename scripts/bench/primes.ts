/**
 * Prime generation and Diffie-Hellman cost, for docs/analysis.md: how long ssp's
 * `generatePrime`/`generateSafePrime` (lib/crypto/primes.ts) and node:crypto's `generatePrimeSync`
 * take by bit length, what one modular exponentiation and one DH exchange per group cost, and
 * whether the growth with bit length is polynomial or exponential (least-squares fits).
 *
 * Run with `deno task bench primes`, or alone with `deno run -A scripts/bench/primes.ts`.
 * node:crypto is timed in a child `deno eval` process so that a slow run can be killed at
 * its time limit (needs `--allow-run`; without it those columns read "not run"). The whole
 * run takes a few minutes.
 *
 * @module
 */
import {
  classifySafePrime,
  computeSharedSecret,
  type DhGroup,
  FFDHE2048,
  generateKeyPair,
  generatePrime,
  generateSafePrime,
  modPow,
  namedGroup,
  randomBits,
  SIEVE_LIMIT,
  validateGroupParameters,
} from "../../lib/crypto/mod.ts";
import {
  barChart,
  type Cell,
  doublingRow,
  fitRow,
  formatMs,
  leastSquares,
  testedSeries,
  timeSeries,
} from "./_growth.ts";
import { median } from "./_sample.ts";

/** A size to measure and how many runs it gets (fewer at large sizes to bound the time). */
interface Step {
  readonly bits: number;
  readonly runs: number;
}

/**
 * Plain primes are cheap enough to go up to 4096 bits, which the fits do not see (they use
 * 256–2048) and so tests their extrapolation.
 */
const PRIME_PLAN: readonly Step[] = [
  { bits: 256, runs: 15 },
  { bits: 512, runs: 15 },
  { bits: 768, runs: 11 },
  { bits: 1024, runs: 9 },
  { bits: 1536, runs: 7 },
  { bits: 2048, runs: 5 },
  { bits: 3072, runs: 5 },
  { bits: 4096, runs: 5 },
];
/** The time to find a safe prime varies a lot from run to run: more runs where they are cheap. */
const SAFE_PLAN: readonly Step[] = [
  { bits: 256, runs: 21 },
  { bits: 512, runs: 15 },
  { bits: 768, runs: 11 },
  { bits: 1024, runs: 7 },
  { bits: 1536, runs: 5 },
  { bits: 2048, runs: 3 },
];
/** Sizes the fits use; larger measured sizes are held out to check the fits' predictions. */
const FIT_MAX_BITS = 2048;
/** A single run of ours is aborted after this long and recorded as "> N s". */
const OUR_TIMEOUT_S = 120;
/** No new run of a size starts once that size has used this much time. */
const SIZE_BUDGET_S = 60;
/** node:crypto safe primes are very slow in Deno; one run is killed after this long. */
const NODE_TIMEOUT_S = 25;
/** node:crypto gets at most this many runs per size (each costs a process start). */
const NODE_MAX_RUNS = 5;

function formatCell(cell: Cell | undefined): string {
  if (cell === undefined) return "—";
  if (cell.skipped) return "not run";
  if (cell.timedOutAfterS !== undefined && cell.ms === undefined) {
    return `> ${cell.timedOutAfterS} s`;
  }
  const text = cell.ms === undefined ? "—" : `${formatMs(cell.ms)} (${cell.runs})`;
  return cell.timedOutAfterS === undefined ? text : `${text} (1 run > ${cell.timedOutAfterS} s)`;
}

/** Odd primes below the sieve bound of lib/crypto/primes.ts. */
function oddSievePrimes(): number[] {
  const composite = new Uint8Array(SIEVE_LIMIT);
  const primes: number[] = [];
  for (let i = 3; i < SIEVE_LIMIT; i += 2) {
    if (composite[i]) continue;
    primes.push(i);
    for (let j = i * i; j < SIEVE_LIMIT; j += 2 * i) composite[j] = 1;
  }
  return primes;
}

/**
 * Expected number of sieve survivors tested before a prime (or safe prime) turns up, from the
 * prime number theorem and, for safe primes, the Hardy–Littlewood estimate 2·C₂ / (ln q ·
 * ln 2q) for q and 2q + 1 both prime (2·C₂ ≈ 1.3203). The sieve keeps a fraction ∏(1 − 1/p)
 * of odd candidates (∏(1 − 2/p) for safe primes) and concentrates the primes among them.
 */
function expectedTests(bits: number, safe: boolean): number {
  const survive = oddSievePrimes().reduce((acc, p) => acc * (1 - (safe ? 2 : 1) / p), 1);
  if (!safe) return (survive * bits * Math.LN2) / 2;
  const lnQ = (bits - 1) * Math.LN2;
  return survive / (2 * 1.3203 / (lnQ * (lnQ + Math.LN2)));
}

function formatTested(cell: Cell | undefined, bits: number, safe: boolean): string {
  if (cell?.tested === undefined) return "—";
  return `${Math.round(cell.tested)} (${Math.round(expectedTests(bits, safe))})`;
}

/** Times ssp's generator over the runs planned for `bits`. */
async function timeOurs(safe: boolean, bits: number, runs: number): Promise<Cell> {
  const times: number[] = [];
  const tested: number[] = [];
  const sizeStart = performance.now();
  for (let i = 0; i < runs; i++) {
    if (i > 0 && performance.now() - sizeStart > SIZE_BUDGET_S * 1000) break;
    let count = 0;
    const options = {
      signal: AbortSignal.timeout(OUR_TIMEOUT_S * 1000),
      onProgress: (n: number) => (count = n),
    };
    const start = performance.now();
    try {
      await (safe ? generateSafePrime(bits, options) : generatePrime(bits, options));
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "TimeoutError")) throw error;
      return cellOf(times, tested, OUR_TIMEOUT_S);
    }
    times.push(performance.now() - start);
    tested.push(count);
  }
  return cellOf(times, tested);
}

function cellOf(times: number[], tested: number[], timedOutAfterS?: number): Cell {
  const cell: Cell = { runs: times.length };
  if (times.length > 0) cell.ms = median(times);
  if (tested.length > 0) cell.tested = median(tested);
  if (timedOutAfterS !== undefined) cell.timedOutAfterS = timedOutAfterS;
  return cell;
}

/** Times one node:crypto `generatePrimeSync` in a child process; undefined on timeout. */
async function timeNodeOnce(safe: boolean, bits: number): Promise<number | undefined> {
  const code = `import { generatePrimeSync } from "node:crypto";
const t = performance.now();
generatePrimeSync(${bits}, { safe: ${safe}, bigint: true });
console.log(performance.now() - t);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), NODE_TIMEOUT_S * 1000);
  const { success, stdout } = await child.output();
  clearTimeout(timer);
  if (!success) return undefined;
  return Number(new TextDecoder().decode(stdout).trim());
}

async function timeNode(safe: boolean, bits: number, runs: number): Promise<Cell> {
  const times: number[] = [];
  const sizeStart = performance.now();
  for (let i = 0; i < runs; i++) {
    if (i > 0 && performance.now() - sizeStart > NODE_TIMEOUT_S * 1000) break;
    const ms = await timeNodeOnce(safe, bits);
    if (ms === undefined) return cellOf(times, [], NODE_TIMEOUT_S);
    times.push(ms);
  }
  return cellOf(times, []);
}

/**
 * Measures a column over `plan` after one untimed warm-up run (so that JIT compilation is not
 * billed to the smallest size); after a timeout the larger sizes are marked as not run.
 */
async function column(
  plan: readonly Step[],
  measure: (bits: number, runs: number) => Promise<Cell>,
  maxRuns = Infinity,
): Promise<Map<number, Cell>> {
  await measure(plan[0]!.bits, 1);
  const cells = new Map<number, Cell>();
  let timedOut = false;
  for (const { bits, runs } of plan) {
    if (timedOut) {
      cells.set(bits, { runs: 0, skipped: true });
      continue;
    }
    const cell = await measure(bits, Math.min(runs, maxRuns));
    cells.set(bits, cell);
    timedOut = cell.timedOutAfterS !== undefined;
  }
  return cells;
}

/** Median time of one modPow with a full-size exponent and an odd modulus of `bits` bits. */
function timeModPow(bits: number): number {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const m = randomBits(bits) | (1n << BigInt(bits - 1)) | 1n;
    const e = randomBits(bits);
    const start = performance.now();
    modPow(3n, e, m);
    times.push(performance.now() - start);
  }
  return median(times);
}

/** Median keygen and shared-secret times for one group. */
async function timeDh(group: DhGroup, runs: number) {
  const keygen: number[] = [];
  const shared: number[] = [];
  const peer = await generateKeyPair(group);
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    const own = await generateKeyPair(group);
    keygen.push(performance.now() - start);
    start = performance.now();
    await computeSharedSecret(own, peer.publicKey);
    shared.push(performance.now() - start);
  }
  return { keygen: median(keygen), shared: median(shared) };
}

/**
 * Runs every measurement and returns the Markdown section for docs/analysis.md: prime and
 * safe-prime generation by size (ssp and node:crypto), modPow cost, DH cost per group, a bar
 * chart and the polynomial-versus-exponential fits.
 */
export async function run(): Promise<string> {
  const canRun = (await Deno.permissions.query({ name: "run" })).state === "granted";
  const ourPrime = await column(PRIME_PLAN, (b, r) => timeOurs(false, b, r));
  const nodePrime = canRun
    ? await column(PRIME_PLAN, (b, r) => timeNode(false, b, r), NODE_MAX_RUNS)
    : new Map<number, Cell>();
  const ourSafe = await column(SAFE_PLAN, (b, r) => timeOurs(true, b, r));
  const nodeSafe = canRun
    ? await column(SAFE_PLAN, (b, r) => timeNode(true, b, r), 3)
    : new Map<number, Cell>();

  const genRows = PRIME_PLAN.map(({ bits }) =>
    `| ${bits} | ${formatCell(ourPrime.get(bits))} | ${
      formatTested(ourPrime.get(bits), bits, false)
    } | ${formatCell(nodePrime.get(bits))} | ${formatCell(ourSafe.get(bits))} | ${
      formatTested(ourSafe.get(bits), bits, true)
    } | ${formatCell(nodeSafe.get(bits))} |`
  );
  const runsNote = (plan: readonly Step[]) =>
    plan.map(({ bits, runs }) => `${bits}: ${runs}`).join(", ");

  const modPowBits = [256, 512, 1024, 2048, 3072, 4096];
  const modPowMs = modPowBits.map(timeModPow);
  const modPowFit = leastSquares(modPowBits.map(Math.log), modPowMs.map(Math.log));

  const dhRows: string[] = [];
  for (
    const [name, runs] of [["x25519", 50], ["ffdhe2048", 10], ["ffdhe3072", 6], [
      "ffdhe4096",
      4,
    ]] as const
  ) {
    const { keygen, shared } = await timeDh(namedGroup(name), runs);
    dhRows.push(
      `| ${name} | ${formatMs(keygen)} | ${formatMs(shared)} | ${formatMs(keygen + shared)} |`,
    );
  }
  // validateGroupParameters() returns RFC 7919 groups without testing them, so time the same
  // work it does for a custom 2048-bit group directly.
  let start = performance.now();
  classifySafePrime(FFDHE2048.p);
  const validateMs = performance.now() - start;
  start = performance.now();
  validateGroupParameters(FFDHE2048.p, 2n);
  const namedMs = performance.now() - start;

  const ratio = (r: number) => r.toFixed(1);
  const doublings = [
    doublingRow("ssp generatePrime", timeSeries(ourPrime), ratio),
    doublingRow("node:crypto generatePrimeSync", timeSeries(nodePrime), ratio),
    doublingRow("ssp generateSafePrime", timeSeries(ourSafe), ratio),
    doublingRow("modPow", modPowBits.map((b, i): [number, number] => [b, modPowMs[i]!]), ratio),
    doublingRow("candidates tested, ssp prime", testedSeries(ourPrime), ratio),
    doublingRow("candidates tested, ssp safe prime", testedSeries(ourSafe), ratio),
  ];

  const fits = [
    fitRow("ssp generatePrime", timeSeries(ourPrime), FIT_MAX_BITS),
    fitRow("ssp generatePrime, all sizes", timeSeries(ourPrime), Infinity),
    fitRow("node:crypto generatePrimeSync", timeSeries(nodePrime), FIT_MAX_BITS),
    fitRow("node:crypto generatePrimeSync, all sizes", timeSeries(nodePrime), Infinity),
    fitRow("ssp generateSafePrime", timeSeries(ourSafe), FIT_MAX_BITS),
    fitRow("node:crypto generatePrimeSync (safe)", timeSeries(nodeSafe), FIT_MAX_BITS),
    fitRow("modPow (one exponentiation)", modPowBits.map((b, i) => [b, modPowMs[i]!]), Infinity),
    fitRow("candidates tested, ssp prime", testedSeries(ourPrime), Infinity, String),
    fitRow("candidates tested, ssp safe prime", testedSeries(ourSafe), Infinity, String),
  ].filter((row) => row !== undefined);

  type Bar = [string, number | undefined];
  const chart = barChart([
    ...PRIME_PLAN.map(({ bits }): Bar => [`prime ${bits} (ssp)`, ourPrime.get(bits)?.ms]),
    ...PRIME_PLAN.map(({ bits }): Bar => [`prime ${bits} (node)`, nodePrime.get(bits)?.ms]),
    ...SAFE_PLAN.map(({ bits }): Bar => [`safe ${bits} (ssp)`, ourSafe.get(bits)?.ms]),
    ...SAFE_PLAN.map(({ bits }): Bar => [`safe ${bits} (node)`, nodeSafe.get(bits)?.ms]),
  ]);

  return [
    "## Prime generation and Diffie-Hellman cost",
    "",
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.os}/${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} CPUs. Medians of the completed runs, after one untimed ` +
    `warm-up run per column. Planned runs per size: primes ${runsNote(PRIME_PLAN)}; safe ` +
    `primes ${runsNote(SAFE_PLAN)}; node:crypto at most ${NODE_MAX_RUNS} (safe: 3). No new ` +
    `run of ssp starts after ${SIZE_BUDGET_S} s on one size (node:crypto: ${NODE_TIMEOUT_S} ` +
    `s). A run of ssp is aborted after ${OUR_TIMEOUT_S} s and one of node:crypto killed after ` +
    `${NODE_TIMEOUT_S} s ("> N s"); larger sizes of that column are then "not run". The ` +
    'number of completed runs follows each time in parentheses. "tested" is the median ' +
    "number of candidates that survived the sieve and reached a modular exponentiation, with " +
    "the expected mean from the prime number theorem (and the Hardy–Littlewood estimate for " +
    "safe primes) in parentheses. That count is random, about geometric (median ≈ 0.69 × " +
    "mean, and one run in 20 needs three times the mean), which makes single runs noisy.",
    "",
    "### Generation time by bit length",
    "",
    "| bits | prime (ssp) | tested | prime (node:crypto) | safe prime (ssp) | tested | " +
    "safe prime (node:crypto) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...genRows,
    "",
    "### Chart (log scale, 8 characters per factor of 10)",
    "",
    "```text",
    chart,
    "```",
    "",
    "### One modular exponentiation (full-size exponent)",
    "",
    `| bits | ${modPowBits.join(" | ")} |`,
    `| --- | ${modPowBits.map(() => "---:").join(" | ")} |`,
    `| modPow | ${modPowMs.map(formatMs).join(" | ")} |`,
    "",
    `Fit: time ∝ bits^${modPowFit.slope.toFixed(2)} (R² ${modPowFit.r2.toFixed(3)}).`,
    "",
    "### Growth: polynomial or exponential?",
    "",
    "Least squares on ln(time): against ln(bits) (polynomial, slope = degree) and against bits " +
    "(exponential). Both models have two parameters, so the smaller residual sum of squares " +
    "(RSS, in ln units) is the better fit. The generator fits use sizes up to " +
    `${FIT_MAX_BITS} bits; the last column compares both fits' predictions with the larger ` +
    'sizes measured but not fitted. The "all sizes" rows fit every measured size. The last ' +
    "rows fit the two factors of the cost separately: one modular exponentiation, and the " +
    "number of candidates that needed one.",
    "",
    "| generator | sizes fitted | polynomial | exponential | better fit | held-out sizes |",
    "| --- | --- | --- | --- | --- | --- |",
    ...fits,
    "",
    "### Time ratio per doubling of the bit length",
    "",
    "A polynomial bits^k multiplies the time by the same 2^k at every doubling; an exponential " +
    "squares the factor from one doubling to the next (×4, ×16, ×256, …).",
    "",
    "| series | ratios |",
    "| --- | --- |",
    ...doublings,
    "",
    "### Diffie-Hellman cost per group",
    "",
    "| group | keygen | shared secret | total |",
    "| --- | ---: | ---: | ---: |",
    ...dhRows,
    "",
    `Validating a custom 2048-bit server group (64 Miller-Rabin rounds on q, Fermat on p): ` +
    `${formatMs(validateMs)}; recognising an RFC 7919 group instead: ${formatMs(namedMs)}.`,
    "",
  ].join("\n");
}

if (import.meta.main) {
  console.log(await run());
}
