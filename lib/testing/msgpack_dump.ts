/**
 * Text dumps of bytes for docs/protocol.md's worked example: hex lines, and
 * a MessagePack body annotated element by element.
 *
 * @module
 */
import { toHex } from "../bytes.ts";

/** Hex dump, 32 bytes a line, each line indented by `indent`. */
export function dump(bytes: Uint8Array, indent = "  "): string {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 32) lines.push(indent + toHex(bytes.subarray(i, i + 32)));
  return lines.join("\n");
}

/**
 * Annotates a MessagePack body element by element, one line each: offset,
 * bytes (long values cut after 8 bytes), meaning. Handles what ssp's encoder
 * emits for handshake messages: fixmap, fixarray, fixstr/str8, bin8/bin16,
 * positive fixint and uint8..uint32; throws on anything else.
 */
export function annotate(body: Uint8Array): string {
  const out: string[] = [];
  let pos = 0;
  const text = (start: number, n: number) =>
    new TextDecoder().decode(body.subarray(start, start + n));
  const line = (start: number, headLen: number, dataLen: number, note: string, keep = 8) => {
    const head = toHex(body.subarray(start, start + headLen));
    const data = body.subarray(start + headLen, start + headLen + dataLen);
    const shown = data.length > keep ? `${toHex(data.subarray(0, keep))}…` : toHex(data);
    out.push(`  ${String(start).padStart(4)}  ${(head + " " + shown).trim().padEnd(36)} ${note}`);
  };
  const element = (depth: number): void => {
    const start = pos;
    const b = body[pos]!;
    const pad = "  ".repeat(depth);
    if (b >= 0x80 && b <= 0x8f) {
      line(start, 1, 0, `${pad}fixmap, ${b & 0x0f} entries`);
      pos += 1;
      for (let i = 0; i < (b & 0x0f); i++) {
        element(depth + 1);
        element(depth + 2);
      }
    } else if (b >= 0x90 && b <= 0x9f) {
      line(start, 1, 0, `${pad}fixarray, ${b & 0x0f} elements`);
      pos += 1;
      for (let i = 0; i < (b & 0x0f); i++) element(depth + 1);
    } else if (b >= 0xa0 && b <= 0xbf) {
      const n = b & 0x1f;
      line(start, 1, n, `${pad}fixstr(${n}) "${text(start + 1, n)}"`, 16);
      pos += 1 + n;
    } else if (b === 0xd9) {
      const n = body[pos + 1]!;
      line(start, 2, n, `${pad}str8(${n}) "${text(start + 2, n)}"`, 16);
      pos += 2 + n;
    } else if (b === 0xc4) {
      const n = body[pos + 1]!;
      line(start, 2, n, `${pad}bin8(${n})`);
      pos += 2 + n;
    } else if (b === 0xc5) {
      const n = (body[pos + 1]! << 8) | body[pos + 2]!;
      line(start, 3, n, `${pad}bin16(${n})`);
      pos += 3 + n;
    } else if (b <= 0x7f) {
      line(start, 1, 0, `${pad}positive fixint ${b}`);
      pos += 1;
    } else if (b === 0xcc || b === 0xcd || b === 0xce) {
      const n = b === 0xcc ? 1 : b === 0xcd ? 2 : 4;
      let v = 0;
      for (let i = 1; i <= n; i++) v = v * 256 + body[pos + i]!;
      line(start, 1 + n, 0, `${pad}uint${8 * n} ${v}`);
      pos += 1 + n;
    } else {
      throw new Error(`annotate: unexpected MessagePack byte 0x${b.toString(16)} at ${pos}`);
    }
  };
  element(0);
  if (pos !== body.length) throw new Error("annotate: trailing bytes");
  return out.join("\n");
}
