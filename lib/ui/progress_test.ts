import assert from "node:assert/strict";
import fc from "fast-check";
import { SspError } from "../errors.ts";
import {
  chooseProgressMode,
  formatBytes,
  formatDuration,
  Progress,
  type ProgressMode,
} from "./progress.ts";

const MIB = 1024 * 1024;

/** A Progress on a fake clock, with everything it writes collected. */
function harness(mode: ProgressMode, total: number, intervalMs?: number) {
  const clock = { ms: 0 };
  const out: string[] = [];
  const progress = new Progress({
    total,
    label: "photo.jpg",
    mode,
    write: (text) => out.push(text),
    now: () => clock.ms,
    ...(intervalMs === undefined ? {} : { intervalMs }),
  });
  return { clock, out, progress };
}

Deno.test("bar mode redraws in place at most every intervalMs", () => {
  const { clock, out, progress } = harness("bar", 100 * MIB);
  for (let t = 0; t <= 250; t += 10) {
    clock.ms = t;
    progress.update(t * 1000);
  }
  // Drawn at 0, 100 and 200 ms: the first update shows the bar at once.
  assert.equal(out.length, 3);
  for (const text of out) {
    assert.ok(text.startsWith("\r"));
    assert.ok(!text.includes("\n"));
  }
});

Deno.test("bar mode draws a final 100% line at finish(), even inside the interval", () => {
  const { clock, out, progress } = harness("bar", 92.1 * MIB);
  progress.update(0);
  clock.ms = 3000;
  progress.update(48.2 * MIB);
  clock.ms = 3010;
  progress.finish();
  assert.equal(out.length, 3);
  const last = out.at(-1)!;
  assert.ok(last.startsWith("\r") && last.endsWith("\n"));
  assert.match(
    last,
    /^\rphoto\.jpg {2}\[█{20}\] {2}100% {2}92\.1 MiB \/ 92\.1 MiB {2}30\.6 MiB\/s {2}in 0:03/,
  );
  assert.match(out[1]!, /\[█{10}░{10}\] {3}52% {2}48\.2 MiB \/ 92\.1 MiB/);
});

Deno.test("bar mode pads a shorter redraw so no characters of the previous one remain", () => {
  const { clock, out, progress } = harness("bar", 100 * MIB);
  progress.update(0);
  clock.ms = 1000;
  progress.update(50 * MIB);
  clock.ms = 1100;
  progress.fail(new Error("x"));
  const widths = out.map((text) => text.replace(/[\r\n]/g, "").length);
  assert.ok(widths[2]! >= widths[1]!, `fail line ${widths[2]} shorter than bar ${widths[1]}`);
  assert.match(out[2]!, /50% .* failed: x *\n$/);
});

Deno.test("rate is measured from updates and ETA is remaining / rate", () => {
  const { clock, progress } = harness("json", 100 * MIB);
  assert.equal(progress.rate, undefined);
  assert.equal(progress.etaSeconds, undefined);
  for (let s = 0; s <= 3; s++) {
    clock.ms = s * 1000;
    progress.update(s * 10 * MIB);
  }
  assert.equal(progress.rate, 10 * MIB);
  assert.equal(progress.etaSeconds, 7);
});

Deno.test("rate follows a change of speed smoothly over about two seconds", () => {
  const { clock, progress } = harness("json", 1000 * MIB);
  let done = 0;
  const step = (seconds: number, mibPerSecond: number) => {
    for (let i = 0; i < seconds * 10; i++) {
      clock.ms += 100;
      done += mibPerSecond * MIB / 10;
      progress.update(done);
    }
  };
  step(5, 10);
  assert.ok(Math.abs(progress.rate! - 10 * MIB) < 1);
  step(0.5, 20);
  const rate = progress.rate! / MIB;
  assert.ok(rate > 10 && rate < 15, `after 0.5 s at 20 MiB/s the rate was ${rate} MiB/s`);
  step(10, 20);
  assert.ok(Math.abs(progress.rate! / MIB - 20) < 0.1);
});

Deno.test("ETA is unknown while nothing moves, and the rate restarts when done goes back", () => {
  const { clock, progress } = harness("json", 100);
  progress.update(0);
  clock.ms = 1000;
  progress.update(0);
  assert.equal(progress.rate, 0);
  assert.equal(progress.etaSeconds, undefined);
  clock.ms = 2000;
  progress.update(50);
  clock.ms = 3000;
  progress.update(10);
  assert.equal(progress.rate, undefined);
});

Deno.test("json mode writes one parseable event per line, then done", () => {
  const { clock, out, progress } = harness("json", 100 * MIB);
  for (let t = 0; t <= 2500; t += 100) {
    clock.ms = t;
    progress.update((t / 100) * MIB); // 10 MiB/s
  }
  clock.ms = 4000;
  progress.finish();
  const events = out.map((line) => {
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    return JSON.parse(line);
  });
  assert.deepEqual(events.map((e) => e.event), ["progress", "progress", "done"]);
  assert.deepEqual(events[1], {
    event: "progress",
    label: "photo.jpg",
    done: 20 * MIB,
    total: 100 * MIB,
    rate: 10 * MIB,
    etaSeconds: 8,
  });
  assert.deepEqual(events[2], {
    event: "done",
    label: "photo.jpg",
    done: 100 * MIB,
    total: 100 * MIB,
    rate: 25 * MIB,
    elapsedSeconds: 4,
  });
});

Deno.test("json mode reports a failure with the error message and its code", () => {
  const { clock, out, progress } = harness("json", 100);
  clock.ms = 1000;
  progress.update(40);
  progress.fail(new SspError("chunk_auth_failed", "file chunk 7 failed authentication"));
  assert.deepEqual(JSON.parse(out.at(-1)!), {
    event: "failed",
    label: "photo.jpg",
    done: 40,
    total: 100,
    error: "file chunk 7 failed authentication",
    code: "chunk_auth_failed",
  });
});

Deno.test("lines mode writes a plain line every 10 intervals and one at the end", () => {
  const { clock, out, progress } = harness("lines", 100 * MIB);
  for (let t = 0; t <= 3500; t += 100) {
    clock.ms = t;
    progress.update((t / 100) * MIB); // 10 MiB/s
  }
  clock.ms = 3600;
  progress.finish();
  assert.equal(out.length, 4);
  assert.ok(out.every((line) => line.endsWith("\n") && !line.includes("\r")));
  assert.equal(out[1], "photo.jpg:  20%  20.0 MiB / 100 MiB  10.0 MiB/s  ETA 0:08\n");
  assert.equal(out[3], "photo.jpg: done, 100 MiB in 0:04 (27.8 MiB/s)\n");
});

Deno.test("lines mode honours a custom intervalMs and logs only the end of a quick transfer", () => {
  const slow = harness("lines", 1000, 50);
  for (let t = 0; t <= 1200; t += 10) {
    slow.clock.ms = t;
    slow.progress.update(t);
  }
  assert.equal(slow.out.length, 2); // at 500 and 1000 ms

  const quick = harness("lines", 1000);
  quick.progress.update(500);
  quick.clock.ms = 200;
  quick.progress.fail(new Error("connection reset"));
  assert.deepEqual(quick.out, ["photo.jpg: failed at  50%  500 B / 1000 B: connection reset\n"]);
});

Deno.test("a zero-byte total shows 100% with no NaN or Infinity in any mode", () => {
  for (const mode of ["bar", "lines", "json"] as const) {
    const { clock, out, progress } = harness(mode, 0);
    progress.update(0);
    clock.ms = 2000;
    progress.update(0);
    progress.finish();
    const text = out.join("");
    assert.ok(!/NaN|Infinity/.test(text), `${mode}: ${text}`);
    if (mode !== "json") assert.match(out.at(-1)!, /100%|done/);
  }
  const instant = harness("json", 0);
  instant.progress.finish();
  assert.equal(JSON.parse(instant.out[0]!).rate, null);
});

Deno.test("calls after finish() or fail() are ignored", () => {
  const { clock, out, progress } = harness("bar", 100);
  progress.finish();
  clock.ms = 10_000;
  progress.update(50);
  progress.fail(new Error("late"));
  progress.finish();
  assert.equal(out.length, 1);
});

Deno.test("Progress refuses bad totals, intervals, modes and done values", () => {
  const base = { label: "f", write: () => {} };
  assert.throws(() => new Progress({ ...base, total: -1, mode: "bar" }), RangeError);
  assert.throws(() => new Progress({ ...base, total: NaN, mode: "bar" }), RangeError);
  assert.throws(() => new Progress({ ...base, total: 1, mode: "bar", intervalMs: 0 }), RangeError);
  assert.throws(
    () => new Progress({ ...base, total: 1, mode: "fancy" as ProgressMode }),
    TypeError,
  );
  const progress = new Progress({ ...base, total: 1, mode: "bar" });
  assert.throws(() => progress.update(-1), RangeError);
  assert.throws(() => progress.update(NaN), RangeError);
});

Deno.test("formatBytes() uses binary units with about three significant digits", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(48.2 * MIB), "48.2 MiB");
  assert.equal(formatBytes(312 * MIB), "312 MiB");
  assert.equal(formatBytes(1024 * MIB - 1), "1.0 GiB");
  assert.equal(formatBytes(5 * 1024 ** 4), "5.0 TiB");
  fc.assert(
    fc.property(fc.double({ min: 0, max: 2 ** 50, noNaN: true }), (bytes) => {
      const [number, unit] = formatBytes(bytes).split(" ");
      assert.ok(["B", "KiB", "MiB", "GiB", "TiB"].includes(unit!));
      assert.ok(Number(number) < 1024 || unit === "TiB", formatBytes(bytes));
    }),
  );
});

Deno.test("formatDuration() shows m:ss, h:mm:ss, and --:-- when unknown", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(1), "0:01");
  assert.equal(formatDuration(61), "1:01");
  assert.equal(formatDuration(3600 + 62), "1:01:02");
  assert.equal(formatDuration(undefined), "--:--");
  assert.equal(formatDuration(Infinity), "--:--");
  assert.equal(formatDuration(100 * 3600), "--:--");
});

Deno.test("chooseProgressMode() picks json when asked, else by whether stderr is a terminal", () => {
  assert.equal(chooseProgressMode(true), "json");
  assert.equal(chooseProgressMode(false), Deno.stderr.isTerminal() ? "bar" : "lines");
});

Deno.test("a sender's file name and error text reach a terminal escaped, and JSON exact", () => {
  const name = "\x1b[2Jinvoice\u202efdp.exe";
  for (const mode of ["bar", "lines"] as const) {
    const out: string[] = [];
    const progress = new Progress({ total: 10, label: name, mode, write: (t) => out.push(t) });
    progress.update(5);
    progress.fail(new Error("stalled\r\x1b[1Afake"));
    const all = out.join("");
    assert.ok(!all.includes("\x1b") && !all.includes("\u202e"), `${mode}: ${JSON.stringify(all)}`);
    assert.match(all, /\\x1b\[2Jinvoice\\u202efdp\.exe/);
    assert.match(all, /stalled\\r\\x1b\[1Afake/);
  }
  const out: string[] = [];
  const progress = new Progress({
    total: 10,
    label: name,
    mode: "json",
    write: (t) => out.push(t),
  });
  progress.finish();
  assert.equal(JSON.parse(out[0]!).label, name);
});
