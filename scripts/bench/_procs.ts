/**
 * Child processes for the file benchmark: each party runs as its own process
 * so its peak memory and CPU time can be read from `/proc/PID/status` and
 * `/proc/PID/stat` (VmHWM and utime + stime, polled while it runs), and its stdout lines are stamped with the time they arrived here,
 * on this process's clock.
 *
 * Deno guards every /proc file behind --allow-all, so a small shell loop reads
 * VmHWM for us; that keeps the benchmark's own permissions narrow.
 *
 * @module
 */

/** How often VmHWM is sampled; it only grows, so the last sample is close to the peak. */
const POLL_SECONDS = 0.02;

/**
 * Prints the clock-tick rate (`hz N`), then every POLL_SECONDS while process
 * $1 lives its VmHWM in kB (`m N`) and its user + system CPU time in ticks
 * (`c N`, fields 14 and 15 of /proc/PID/stat).
 */
const WATCH_SCRIPT = `p=$1
echo "hz $(getconf CLK_TCK)"
while [ -d /proc/$p ]; do
  while read -r k v u; do [ "$k" = VmHWM: ] && echo "m $v"; done < /proc/$p/status
  read -r -a s < /proc/$p/stat && echo "c $((s[13] + s[14]))"
  sleep ${POLL_SECONDS}
done 2>/dev/null`;

/** A stdout line and when it arrived (`performance.now()` here). */
export interface Line {
  text: string;
  at: number;
}

/** A running child process. */
export class Proc {
  readonly pid: number;
  readonly startedAt = performance.now();
  /** Every stdout line so far. */
  readonly lines: Line[] = [];
  /** Resolves with the exit code and the time of exit. */
  readonly exited: Promise<{ code: number; at: number }>;
  #peakKiB = 0;
  #lifetimePeakKiB = 0;
  #ticksPerSecond = 100;
  /** CPU time samples: when (on this process's clock) and ticks used so far. */
  readonly #cpu: { at: number; ticks: number }[] = [];
  #stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #waiters: { match: (text: string) => boolean; resolve: (line: Line) => void }[] = [];
  readonly #watcher: Deno.ChildProcess;

  constructor(
    command: string,
    args: string[],
    options: { env?: Record<string, string>; stdin?: "null" | "piped"; stdout?: "null" | "piped" } =
      {},
  ) {
    const stdoutMode = options.stdout ?? "piped";
    this.#child = new Deno.Command(command, {
      args,
      // A piped stdin that is never written keeps programs that stop at EOF running.
      stdin: options.stdin ?? "null",
      stdout: stdoutMode,
      stderr: "piped",
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
    this.pid = this.#child.pid;
    this.#watcher = new Deno.Command("bash", {
      args: ["-c", WATCH_SCRIPT, "watch", String(this.pid)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const watched = this.#read(this.#watcher.stdout, (text) => {
      const [kind, value] = [
        text.slice(0, text.indexOf(" ")),
        Number(text.slice(text.indexOf(" ") + 1)),
      ];
      if (kind === "hz") this.#ticksPerSecond = value;
      if (kind === "c") this.#cpu.push({ at: performance.now(), ticks: value });
      if (kind !== "m") return;
      if (value > this.#peakKiB) this.#peakKiB = value;
      if (value > this.#lifetimePeakKiB) this.#lifetimePeakKiB = value;
    });
    const stdout = stdoutMode === "piped"
      ? this.#read(this.#child.stdout, (text) => this.#line(text))
      : Promise.resolve();
    const stderr = this.#read(this.#child.stderr, (text) => {
      this.#stderr = (this.#stderr + text + "\n").slice(-4000);
    });
    this.exited = this.#child.status.then(async (status) => {
      const at = performance.now();
      try {
        this.#watcher.kill("SIGTERM");
      } catch { /* already gone */ }
      await Promise.all([stdout, stderr, watched, this.#watcher.status]);
      return { code: status.code, at };
    });
  }

  /** Peak resident memory seen so far, in MiB (VmHWM, sampled every 20 ms). */
  get peakMiB(): number {
    return this.#peakKiB / 1024;
  }

  /**
   * User + system CPU seconds the process used between two moments on this
   * process's clock (`performance.now()`), from samples 20 ms apart.
   */
  cpuSecondsBetween(from: number, to: number): number {
    const ticksAt = (t: number) => this.#cpu.findLast((s) => s.at <= t)?.ticks ?? 0;
    return (ticksAt(to) - ticksAt(from)) / this.#ticksPerSecond;
  }

  /** Peak resident memory over the whole life of the process, in MiB, resets ignored. */
  get lifetimePeakMiB(): number {
    return this.#lifetimePeakKiB / 1024;
  }

  /** The last 4000 characters of stderr, for error messages. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first stdout line (past or future) that `match` accepts. */
  waitFor(match: (text: string) => boolean): Promise<Line> {
    const seen = this.lines.find((l) => match(l.text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ match, resolve });
      this.exited.then(() =>
        reject(new Error(`process exited before the expected line; stderr:\n${this.#stderr}`))
      );
    });
  }

  /** Parsed JSON stdout lines. */
  json(): { value: Record<string, unknown>; at: number }[] {
    return this.lines.flatMap((l) => {
      try {
        return [{ value: JSON.parse(l.text) as Record<string, unknown>, at: l.at }];
      } catch {
        return [];
      }
    });
  }

  /**
   * Resets the kernel's high-water mark to the current RSS (needs root or the
   * process's owner; Linux ≥ 4.0), so that {@linkcode peakMiB} is the peak of
   * what follows.
   */
  async resetPeak(): Promise<void> {
    await new Deno.Command("sh", { args: ["-c", `echo 5 > /proc/${this.pid}/clear_refs`] })
      .output();
    // Let samples taken before the reset drain, then forget them.
    await new Promise((r) => setTimeout(r, 5 * POLL_SECONDS * 1000));
    this.#peakKiB = 0;
  }

  /** Waits for a clean exit; throws with stderr otherwise. */
  async success(): Promise<{ code: number; at: number }> {
    const status = await this.exited;
    if (status.code !== 0) {
      throw new Error(`process ${this.pid} exited with ${status.code}; stderr:\n${this.#stderr}`);
    }
    return status;
  }

  /** Sends SIGTERM (to this child only) and waits for it to exit. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    try {
      this.#child.stdin.close();
    } catch { /* not piped */ }
    await this.exited;
  }

  #line(text: string): void {
    const line = { text, at: performance.now() };
    this.lines.push(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(text)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  async #read(stream: ReadableStream<Uint8Array>, onLine: (text: string) => void): Promise<void> {
    let pending = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    }
    if (pending) onLine(pending);
  }
}

/** Runs a command to completion; throws with its stderr if it fails. */
export async function runQuiet(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdin: "null" }).output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

/** Whether `command` can be run (found on PATH). */
export async function available(command: string): Promise<boolean> {
  try {
    await new Deno.Command(command, { args: ["-V"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

let ticksPerSecond: number | null = null;

/**
 * The CPU time (user + system seconds, fields 14 and 15 of /proc/PID/stat)
 * and resident memory (VmRSS of /proc/PID/status, MiB) of a running process
 * now. Reading another process's /proc files needs --allow-all.
 */
export async function procStats(
  pid: number,
): Promise<{ cpuSeconds: number; rssMiB: number; pssMiB: number }> {
  ticksPerSecond ??= Number((await runQuiet("getconf", ["CLK_TCK"])).trim()) || 100;
  // Read by `cat`: Deno guards /proc behind --allow-all (see WATCH_SCRIPT).
  const stat = await runQuiet("cat", [`/proc/${pid}/stat`]);
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = await runQuiet("cat", [`/proc/${pid}/status`]);
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  // PSS divides each shared page (the deno binary's, say) among the processes that map it.
  const rollup = await runQuiet("cat", [`/proc/${pid}/smaps_rollup`]).catch(() => "");
  const pssKiB = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? NaN);
  return { cpuSeconds: ticks / ticksPerSecond, rssMiB: rssKiB / 1024, pssMiB: pssKiB / 1024 };
}
