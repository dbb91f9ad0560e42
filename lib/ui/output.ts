/**
 * The one place that decides how results and errors reach the user:
 * plain text (results on stdout, notes and errors on stderr) or `--json`
 * (one JSON object per line on stdout, errors too, so scripts read one stream).
 *
 * Text for people passes through {@linkcode safeText} line by line on its way
 * out, so a control character that reached a message, a file name or an error
 * text cannot act on the terminal even where a formatter forgot it. JSON is
 * written exact (JSON escaping already makes it inert).
 *
 * @module
 */
import { SspError } from "../errors.ts";
import { chooseProgressMode, Progress, type ProgressMode } from "./progress.ts";
import { safeText } from "./sanitize.ts";

/** Where an {@linkcode Output} writes; the process's stdout and stderr by default. */
export interface OutputSinks {
  /** Results (and everything in JSON mode). */
  stdout?: (line: string) => void;
  /** Notes and errors for people. */
  stderr?: (line: string) => void;
  /** Raw text of progress displays, in `mode`; stderr (stdout for JSON) by default. */
  progress?: { mode: ProgressMode; write: (text: string) => void };
}

const encoder = new TextEncoder();

/** Writes results, notes and errors in the chosen format. */
export class Output {
  /** True for `--json`. */
  readonly json: boolean;
  readonly #stdout: (line: string) => void;
  readonly #stderr: (line: string) => void;
  readonly #progress: OutputSinks["progress"];

  constructor(json: boolean, sinks: OutputSinks = {}) {
    this.json = json;
    this.#stdout = sinks.stdout ?? console.log;
    this.#stderr = sinks.stderr ?? console.error;
    this.#progress = sinks.progress;
  }

  /** A result: `data` as JSON, or `text` for people. */
  result(data: Record<string, unknown>, text: string): void {
    this.#stdout(this.json ? JSON.stringify(data) : safe(text));
  }

  /** A line for people on stdout (no JSON form): dropped in JSON mode. */
  line(text: string): void {
    if (!this.json) this.#stdout(safe(text));
  }

  /** A side note for people (stderr); dropped in JSON mode unless `data` is given. */
  note(text: string, data?: Record<string, unknown>): void {
    if (!this.json) this.#stderr(safe(text));
    else if (data) this.#stdout(JSON.stringify(data));
  }

  /** A progress display for a transfer of `total` bytes called `label`. */
  progress(label: string, total: number): Progress {
    if (this.#progress && !this.json) {
      return new Progress({ total, label, ...this.#progress });
    }
    const mode = chooseProgressMode(this.json);
    const stream = mode === "json" ? Deno.stdout : Deno.stderr;
    return new Progress({
      total,
      label,
      mode,
      write: (text) => stream.writeSync(encoder.encode(text)),
    });
  }

  /** Reports an error and returns the process exit code to use. */
  error(error: unknown): number {
    const code = error instanceof SspError ? error.code : "error";
    const message = error instanceof Error ? error.message : String(error);
    const hint = error instanceof SspError ? error.hint : undefined;
    if (this.json) {
      this.#stdout(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }));
    } else {
      this.#stderr(`error: ${safe(message)}`);
      if (hint) this.#stderr(`hint: ${safe(hint)}`);
    }
    return error instanceof TypeError || error instanceof RangeError ? 2 : 1;
  }
}

/** Each line of `text` made safe; the line breaks themselves are ours. */
function safe(text: string): string {
  return text.split("\n").map(safeText).join("\n");
}
