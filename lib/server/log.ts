/**
 * The server's event log: one line per connection event or error, as
 * `key=value` text for people or JSON for machines (`--log-format json`).
 *
 * @module
 */

/** Output format of the log. */
export type LogFormat = "text" | "json";

/** Fields of one log line; `event` names what happened. */
export type LogFields = { event: string } & Record<string, string | number | boolean | undefined>;

/** Writes one event. */
export type Logger = (fields: LogFields) => void;

/** A logger that writes lines to `write` (stderr at the entry point) in `format`. */
export function createLogger(format: LogFormat, write: (line: string) => void): Logger {
  return (fields) => {
    const time = new Date().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, ...fields }));
      return;
    }
    const parts = [time, fields.event];
    for (const [key, value] of Object.entries(fields)) {
      if (key === "event" || value === undefined) continue;
      const text = String(value);
      parts.push(`${key}=${/[\s"=]/.test(text) || text === "" ? JSON.stringify(text) : text}`);
    }
    write(parts.join(" "));
  };
}

/** A logger that drops everything (tests that do not look at the log). */
export const silentLogger: Logger = () => {};
