/**
 * The one place that decides how results and errors reach the user:
 * plain text (results on stdout, notes and errors on stderr) or `--json`
 * (one JSON object per line on stdout, errors too, so scripts read one stream).
 *
 * @module
 */
import { SspError } from "../errors.ts";

/** Writes results, notes and errors in the chosen format. */
export class Output {
  /** True for `--json`. */
  readonly json: boolean;
  readonly #stdout: (line: string) => void;
  readonly #stderr: (line: string) => void;

  constructor(
    json: boolean,
    stdout: (line: string) => void = console.log,
    stderr: (line: string) => void = console.error,
  ) {
    this.json = json;
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  /** A result: `data` as JSON, or `text` for people. */
  result(data: Record<string, unknown>, text: string): void {
    this.#stdout(this.json ? JSON.stringify(data) : text);
  }

  /** A side note for people (stderr); dropped in JSON mode unless `data` is given. */
  note(text: string, data?: Record<string, unknown>): void {
    if (!this.json) this.#stderr(text);
    else if (data) this.#stdout(JSON.stringify(data));
  }

  /** Reports an error and returns the process exit code to use. */
  error(error: unknown): number {
    const code = error instanceof SspError ? error.code : "error";
    const message = error instanceof Error ? error.message : String(error);
    const hint = error instanceof SspError ? error.hint : undefined;
    if (this.json) {
      this.#stdout(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }));
    } else {
      this.#stderr(`error: ${message}`);
      if (hint) this.#stderr(`hint: ${hint}`);
    }
    return error instanceof TypeError || error instanceof RangeError ? 2 : 1;
  }
}
