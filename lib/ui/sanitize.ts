/**
 * Making text that someone else chose safe to show on a terminal.
 *
 * A message, a file name or an error message carrying a peer's data could
 * otherwise hold control characters: `\r` and ESC sequences that erase lines
 * and draw a fake message, or bidirectional overrides that make the text read
 * differently from what it is ("Trojan Source", CVE-2021-42574). Every such
 * character is shown visibly escaped (`\x1b`, `\u202e`) instead; printable
 * text, including non-Latin scripts and emoji, is left as it is.
 *
 * @module
 */

/** Characters written as a short escape rather than `\xHH`. */
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Everything escaped: C0 controls and DEL, C1 controls (U+0080–U+009F, which
 * some terminals obey like ESC sequences), bidirectional marks, embeddings,
 * overrides and isolates, the Unicode line and paragraph separators, and
 * lone surrogate halves (not text at all).
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex -- matching control characters is this regex's job
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Whether `text` holds a character that {@linkcode safeText} would escape. */
export function isSafeText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return !UNSAFE.test(text);
}

/** `text` with every control, bidi and lone-surrogate character shown escaped. */
export function safeText(text: string): string {
  return text.replace(UNSAFE, escape);
}

/**
 * `text` shown on several lines: each of its lines made safe, every line after
 * the first indented by `indent`, so a peer's newline cannot start a line that
 * looks like one of ours.
 */
export function safeLines(text: string, indent: string): string {
  return text.split("\n").map(safeText).join(`\n${indent}`);
}

function escape(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}
