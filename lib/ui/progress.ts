/**
 * Progress of long transfers: a bar redrawn in place on a terminal, plain
 * lines for logs and pipes, or JSON events for scripts (`--json`).
 *
 * {@linkcode Progress} does no I/O itself: it hands finished text to a
 * `write` callback and reads time from an injectable clock, so the entry point
 * decides where output goes and tests run without timers.
 *
 * @module
 */

import { safeText } from "./sanitize.ts";

/** How progress is shown; see {@linkcode chooseProgressMode}. */
export type ProgressMode = "bar" | "lines" | "json";

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** Bytes the transfer will move in all; 0 is allowed (an empty file). */
  total: number;
  /** What is being transferred, usually a file name. */
  label: string;
  /** How to show progress. */
  mode: ProgressMode;
  /** Receives each piece of output, complete with its "\r" or "\n". */
  write: (text: string) => void;
  /** Clock in milliseconds; defaults to `performance.now`. */
  now?: () => number;
  /** Fastest redraw of the bar, in ms (default 100); lines and JSON come ten times less often. */
  intervalMs?: number;
}

/** Width of the bar, in cells. */
const BAR_WIDTH = 20;
const DEFAULT_INTERVAL_MS = 100;
/** Lines and JSON events are for logs, so they come this many times less often than bar redraws. */
const LINES_INTERVAL_FACTOR = 10;
/**
 * Time constant of the rate's moving average: a change of speed shows up
 * mostly within ~2 s, while the jitter of individual chunks is smoothed out.
 */
const RATE_TIME_CONSTANT_MS = 2000;
/** The rate is sampled at most this often, so a burst of updates does not divide by ~0 ms. */
const RATE_SAMPLE_MS = 100;
/** ETAs from 100 hours up are shown as unknown rather than as a meaningless figure. */
const MAX_ETA_SECONDS = 100 * 3600 - 1;

/**
 * Reports the progress of one transfer. Call {@linkcode Progress.update} as
 * bytes move, then exactly one of {@linkcode Progress.finish} or
 * {@linkcode Progress.fail}; calls after that are ignored, so a late update
 * from a cancelled transfer cannot redraw a finished bar.
 */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #mode: ProgressMode;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #periodMs: number;
  readonly #startedAt: number;
  #done = 0;
  #rate: number | undefined;
  #sampleAt: number;
  #sampleDone = 0;
  #lastOutputAt: number;
  #lastBarWidth = 0;
  #ended = false;

  /**
   * @throws {RangeError} If `total` is negative or not finite, or `intervalMs` not positive.
   * @throws {TypeError} If `mode` is not one of "bar", "lines", "json".
   */
  constructor(options: ProgressOptions) {
    const { total, label, mode, write } = options;
    if (!Number.isFinite(total) || total < 0) {
      throw new RangeError(`total must be a non-negative number of bytes, got ${total}`);
    }
    if (mode !== "bar" && mode !== "lines" && mode !== "json") {
      throw new TypeError(`progress mode must be "bar", "lines" or "json", got ${mode}`);
    }
    const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
      throw new RangeError(`intervalMs must be a positive number, got ${intervalMs}`);
    }
    this.#total = total;
    // A file name comes from the sender: shown escaped on a terminal, exact in JSON.
    this.#label = mode === "json" ? label : safeText(label);
    this.#mode = mode;
    this.#write = write;
    this.#now = options.now ?? (() => performance.now());
    this.#periodMs = mode === "bar" ? intervalMs : intervalMs * LINES_INTERVAL_FACTOR;
    this.#startedAt = this.#now();
    this.#sampleAt = this.#startedAt;
    // The bar appears at the first update; lines and JSON wait a full period, so a
    // transfer that ends quickly logs only its final line.
    this.#lastOutputAt = mode === "bar" ? -Infinity : this.#startedAt;
  }

  /** Smoothed transfer rate in bytes per second, or `undefined` until it can be measured. */
  get rate(): number | undefined {
    return this.#rate;
  }

  /** Seconds left at the current rate, rounded up; `undefined` when the rate is unknown or 0. */
  get etaSeconds(): number | undefined {
    const remaining = Math.max(0, this.#total - this.#done);
    if (remaining === 0) return 0;
    if (this.#rate === undefined || this.#rate <= 0) return undefined;
    return Math.ceil(remaining / this.#rate);
  }

  /**
   * Records that `done` bytes have been transferred so far, and shows it if the
   * last output is old enough. A `done` lower than before (a restarted transfer)
   * starts the rate measurement afresh.
   *
   * @throws {RangeError} If `done` is negative or not finite.
   */
  update(done: number): void {
    if (this.#ended) return;
    if (!Number.isFinite(done) || done < 0) {
      throw new RangeError(`done must be a non-negative number of bytes, got ${done}`);
    }
    const now = this.#now();
    this.#done = done;
    this.#sample(now);
    if (now - this.#lastOutputAt < this.#periodMs) return;
    this.#lastOutputAt = now;
    const eta = this.etaSeconds;
    switch (this.#mode) {
      case "bar":
        return this.#redraw(`${this.#head()}  ${rateText(this.#rate)}  ETA ${formatDuration(eta)}`);
      case "lines":
        return this.#write(
          `${this.#label}: ${this.#counts()}  ${rateText(this.#rate)}  ETA ${
            formatDuration(eta)
          }\n`,
        );
      case "json":
        return this.#json({
          event: "progress",
          label: this.#label,
          done,
          total: this.#total,
          rate: this.#rate === undefined ? null : Math.round(this.#rate),
          etaSeconds: eta ?? null,
        });
    }
  }

  /** Reports the transfer complete (all `total` bytes), with its average rate and duration. */
  finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#done = this.#total;
    const elapsedMs = Math.max(0, this.#now() - this.#startedAt);
    const average = elapsedMs > 0 ? this.#total / (elapsedMs / 1000) : undefined;
    const took = formatDuration(Math.round(elapsedMs / 1000));
    switch (this.#mode) {
      case "bar":
        return this.#redraw(`${this.#head()}  ${rateText(average)}  in ${took}`, "\n");
      case "lines":
        return this.#write(
          `${this.#label}: done, ${formatBytes(this.#total)} in ${took} (${rateText(average)})\n`,
        );
      case "json":
        return this.#json({
          event: "done",
          label: this.#label,
          done: this.#total,
          total: this.#total,
          rate: average === undefined ? null : Math.round(average),
          elapsedSeconds: Math.round(elapsedMs) / 1000,
        });
    }
  }

  /** Reports that the transfer stopped with `error`, showing how far it got. */
  fail(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    switch (this.#mode) {
      case "bar":
        return this.#redraw(`${this.#head()}  failed: ${safeText(error.message)}`, "\n");
      case "lines":
        return this.#write(
          `${this.#label}: failed at ${this.#counts()}: ${safeText(error.message)}\n`,
        );
      case "json": {
        const code = (error as { code?: unknown }).code;
        return this.#json({
          event: "failed",
          label: this.#label,
          done: this.#done,
          total: this.#total,
          error: error.message,
          ...(typeof code === "string" ? { code } : {}),
        });
      }
    }
  }

  /** Folds the bytes moved since the last sample into the moving average. */
  #sample(now: number): void {
    if (this.#done < this.#sampleDone) {
      this.#rate = undefined;
      this.#sampleAt = now;
      this.#sampleDone = this.#done;
      return;
    }
    const elapsedMs = now - this.#sampleAt;
    if (elapsedMs < RATE_SAMPLE_MS) return;
    const instant = ((this.#done - this.#sampleDone) * 1000) / elapsedMs;
    // Weighting by elapsed time keeps the average right however irregular the updates are.
    const weight = 1 - Math.exp(-elapsedMs / RATE_TIME_CONSTANT_MS);
    this.#rate = this.#rate === undefined ? instant : this.#rate + weight * (instant - this.#rate);
    this.#sampleAt = now;
    this.#sampleDone = this.#done;
  }

  /** "label  [████░░░░]  52%  48.2 MiB / 92.1 MiB" */
  #head(): string {
    const filled = Math.floor(this.#fraction() * BAR_WIDTH);
    const bar = "█".repeat(filled) + "░".repeat(BAR_WIDTH - filled);
    return `${this.#label}  [${bar}]  ${this.#counts()}`;
  }

  /** "52%  48.2 MiB / 92.1 MiB" */
  #counts(): string {
    // Rounded down, so 100% means done rather than "99.6% and stuck".
    const percent = `${Math.floor(this.#fraction() * 100)}%`.padStart(4);
    return `${percent}  ${formatBytes(this.#done)} / ${formatBytes(this.#total)}`;
  }

  #fraction(): number {
    return this.#total === 0 ? 1 : Math.min(1, this.#done / this.#total);
  }

  /** Overwrites the bar's line; spaces erase what a longer previous draw left behind. */
  #redraw(line: string, end = ""): void {
    const padded = line.padEnd(this.#lastBarWidth);
    this.#lastBarWidth = line.length;
    this.#write(`\r${padded}${end}`);
  }

  #json(event: Record<string, unknown>): void {
    this.#write(JSON.stringify(event) + "\n");
  }
}

/** "bar" on a terminal, "lines" when stderr is a file or pipe, "json" when asked for. */
export function chooseProgressMode(json: boolean): ProgressMode {
  if (json) return "json";
  return Deno.stderr.isTerminal() ? "bar" : "lines";
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** A byte count for people: "512 B", "48.2 KiB", "312 MiB" (binary units, 3 significant digits). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (unit < UNITS.length - 1 && Number(scaled(value, unit)) >= 1024) {
    value /= 1024;
    unit++;
  }
  return `${scaled(value, unit)} ${UNITS[unit]}`;
}

function scaled(value: number, unit: number): string {
  if (unit === 0) return value.toFixed(0);
  const oneDecimal = value.toFixed(1);
  return Number(oneDecimal) < 100 ? oneDecimal : value.toFixed(0);
}

/** Whole seconds as "m:ss" or "h:mm:ss"; "--:--" when unknown or 100 hours and more. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--:--";
  const whole = Math.round(seconds);
  if (whole > MAX_ETA_SECONDS) return "--:--";
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function rateText(rate: number | undefined): string {
  return rate === undefined ? "-- B/s" : `${formatBytes(rate)}/s`;
}
