/**
 * The interactive session's terminal: a prompt with full line editing and
 * input history, and output printed above it without disturbing what the
 * user is typing.
 *
 * Built on `node:readline`, which Deno ships: it is the line editor Node's
 * own REPL uses (cursor keys, Home/End, Ctrl-A/E/K/U/W, history with ↑/↓),
 * needs no dependency, and puts the terminal in raw mode, so a line is not
 * cut at the tty's 4,095-byte canonical-mode limit. When standard input is
 * not a terminal (a pipe, a script) it reads plain lines and shows no prompt.
 *
 * @module
 */
import * as readline from "node:readline";
import process from "node:process";

/** A line ending in this character continues on the next line (multi-line input). */
export const CONTINUATION = "\\";

/** Prompt shown while a multi-line input continues. */
const CONTINUATION_PROMPT = "… ";

/** Text whose display width is its length. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Lines of input history kept during a session. */
const HISTORY_SIZE = 1000;

/** The prompt, the input lines and the output above them. */
export class Screen {
  /** Whether standard input and output are a terminal (prompt, editing, redraws). */
  readonly terminal: boolean;
  readonly #rl: readline.Interface;
  #prompt = "> ";
  #closed = false;
  readonly #encoder = new TextEncoder();

  constructor() {
    this.terminal = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
    this.#rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: this.terminal,
      historySize: HISTORY_SIZE,
      prompt: this.#prompt,
    });
    // Ctrl-C on an empty line leaves, as Ctrl-D does; on a typed line it clears it.
    this.#rl.on("SIGINT", () => {
      if (this.#rl.line === "") this.close();
      else {
        this.#rl.write(null, { ctrl: true, name: "u" });
      }
    });
    this.#rl.on("close", () => this.#closed = true);
    if (this.terminal) this.#fastCursorPos();
  }

  /**
   * node:readline measures the display width of everything before the cursor
   * on every key typed (to see whether the line wrapped), so a pasted line of
   * n characters costs O(n²): minutes for 10,000 characters. While the cursor
   * is at the end of a line of printable ASCII, the width is the length; only
   * the characters added since the last key are checked.
   */
  #fastCursorPos(): void {
    const rl = this.#rl;
    const measure = rl.getCursorPos.bind(rl);
    let ascii = ""; // the longest line start known to be printable ASCII
    rl.getCursorPos = () => {
      const { line, cursor } = rl;
      const prompt = rl.getPrompt();
      if (cursor !== line.length || !PRINTABLE_ASCII.test(prompt)) return measure();
      if (!line.startsWith(ascii)) ascii = "";
      if (!PRINTABLE_ASCII.test(line.slice(ascii.length))) return measure();
      ascii = line;
      const columns = process.stdout.columns || 80;
      const width = prompt.length + line.length;
      return { rows: Math.floor(width / columns), cols: width % columns };
    };
  }

  /**
   * Prints `text` above the prompt; on a terminal the prompt and the
   * half-typed line (and the cursor within it) are drawn again below it.
   */
  print(text: string): void {
    if (this.#closed) {
      Deno.stdout.writeSync(this.#encoder.encode(`${text}\n`));
      return;
    }
    if (!this.terminal) {
      process.stdout.write(`${text}\n`);
      return;
    }
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    process.stdout.write(`${text}\n`);
    this.#rl.prompt(true);
  }

  /** Rings the terminal bell. */
  bell(): void {
    if (this.terminal && !this.#closed) process.stdout.write("\x07");
  }

  /** Changes the prompt, redrawing it (with the typed text) on a terminal. */
  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    this.#rl.setPrompt(prompt);
    if (this.terminal && !this.#closed) this.#rl.prompt(true);
  }

  /** Shows the prompt for the next input. */
  prompt(): void {
    if (this.terminal && !this.#closed) this.#rl.prompt();
  }

  /**
   * Each input the user enters, until Ctrl-D, Ctrl-C on an empty line or
   * {@linkcode close}. Lines ending in a backslash are joined (with "\n") to
   * the next.
   */
  async *inputs(): AsyncGenerator<string> {
    let parts: string[] = [];
    for await (const line of this.#rl) {
      if (line.endsWith(CONTINUATION)) {
        parts.push(line.slice(0, -CONTINUATION.length));
        this.#rl.setPrompt(CONTINUATION_PROMPT);
        if (this.terminal) this.#rl.prompt();
        continue;
      }
      parts.push(line);
      const input = parts.join("\n");
      parts = [];
      this.#rl.setPrompt(this.#prompt);
      yield input;
    }
    if (parts.length) yield parts.join("\n");
  }

  /** Ends input and gives the terminal back (cooked mode, echo on). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rl.close();
    process.stdin.pause();
  }
}
