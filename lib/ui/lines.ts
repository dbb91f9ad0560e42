/**
 * Lines of text from a byte stream (standard input), without buffering more
 * than the current line: every line is yielded as soon as it is complete,
 * whatever the consumer is doing in between.
 *
 * @module
 */

/** Yields each line of `stream` (without its "\n" or "\r\n"), then any unterminated last line. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, newline).replace(/\r$/, "");
      pending = pending.slice(newline + 1);
    }
  }
  if (pending !== "") yield pending;
}
