import assert from "node:assert/strict";
import { IdleSweep } from "./idle_sweep.ts";
import { until } from "../testing/mod.ts";

function session(name: string, closed: string[]) {
  return { idleTimedOut: () => closed.push(name) };
}

Deno.test("a session waiting the idle timeout is closed once; one that got a request is not", () => {
  let now = 0;
  const closed: string[] = [];
  const sweep = new IdleSweep(1000, { now: () => now, autoSweep: false });
  const quiet = session("quiet", closed);
  const busy = session("busy", closed);
  sweep.wait(quiet);
  sweep.wait(busy);
  now = 999;
  sweep.sweep();
  assert.deepEqual(closed, [], "not before the timeout");
  sweep.done(busy); // a request arrived
  sweep.wait(busy); // and it waits for the next from now on
  now = 1000;
  sweep.sweep();
  assert.deepEqual(closed, ["quiet"]);
  now = 1998;
  sweep.sweep();
  assert.deepEqual(closed, ["quiet"], "the busy one waits afresh from its last request");
  now = 1999;
  sweep.sweep();
  sweep.sweep();
  assert.deepEqual(closed, ["quiet", "busy"], "each closed once");
  assert.equal(sweep.size, 0);
});

Deno.test("a session that ended is forgotten, and the sweep stops at the first one still in time", () => {
  let now = 0;
  const closed: string[] = [];
  const sweep = new IdleSweep(100, { now: () => now, autoSweep: false });
  const sessions = Array.from({ length: 5 }, (_, i) => session(`s${i}`, closed));
  for (const [i, s] of sessions.entries()) {
    now = i * 10;
    sweep.wait(s);
  }
  sweep.done(sessions[1]!); // its connection ended
  now = 125; // s0 (0), s1 (gone) and s2 (20) are due; s3 (30) and s4 (40) are not
  sweep.sweep();
  assert.deepEqual(closed, ["s0", "s2"]);
  assert.equal(sweep.size, 2);
});

Deno.test("the sweep runs by itself and stops when closed", async () => {
  const closed: string[] = [];
  const sweep = new IdleSweep(20);
  try {
    sweep.wait(session("quiet", closed));
    await until(() => closed.length === 1, { what: "the idle session to be closed" });
  } finally {
    sweep.close();
  }
});
