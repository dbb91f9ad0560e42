/**
 * Reading from the terminal: passwords without echo, yes/no questions, and
 * the first line of standard input for `--password-stdin`.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Reads one line typed on the terminal without echoing it (stderr shows the prompt). */
export async function promptSecret(question: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) {
    throw new TypeError(
      "no terminal to ask for the password; set SSP_PASSWORD or pass --password-stdin",
    );
  }
  // Echo goes off before the question appears: keys typed as soon as it shows are never echoed.
  Deno.stdin.setRaw(true);
  await Deno.stderr.write(encoder.encode(question));
  const typed: string[] = [];
  const buffer = new Uint8Array(64);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      const text = new TextDecoder().decode(buffer.subarray(0, n));
      for (const ch of text) {
        if (ch === "\r" || ch === "\n") return typed.join("");
        if (ch === "\u0003") throw new Deno.errors.Interrupted("cancelled");
        if (ch === "\u007f" || ch === "\b") typed.pop();
        else typed.push(ch);
      }
    }
    return typed.join("");
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
}

/** Asks a yes/no question on the terminal; false when there is no terminal. */
export function confirm(question: string): boolean {
  if (!Deno.stdin.isTerminal()) return false;
  const answer = prompt(`${question} [y/N]`);
  return answer !== null && /^y(es)?$/i.test(answer.trim());
}

/** Reads standard input up to the first newline (or end). */
export async function readFirstLine(): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(1024);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) break;
    const chunk = buffer.slice(0, n);
    const newline = chunk.indexOf(10);
    if (newline >= 0) {
      chunks.push(chunk.subarray(0, newline));
      break;
    }
    chunks.push(chunk);
  }
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return new TextDecoder().decode(all).replace(/\r$/, "");
}
