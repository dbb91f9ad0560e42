import assert from "node:assert/strict";
import { until } from "../testing/mod.ts";
import { addressKey, ConnectionSlots, Slot } from "./slots.ts";

/** Admits connections and records which were closed, and why. */
function harness(maxConnections: number, maxPerAddress: number, loginTimeoutMs = 60_000) {
  const slots = new ConnectionSlots({ maxConnections, maxPerAddress, loginTimeoutMs });
  const closed: [number, string][] = [];
  const held: Slot[] = [];
  let next = 1;
  const admit = (address: string) => {
    const id = next++;
    const slot = slots.admit(id, address, (code) => closed.push([id, code]));
    if (slot instanceof Slot) held.push(slot);
    return slot;
  };
  return { slots, closed, admit, releaseAll: () => held.forEach((s) => s.release()) };
}

Deno.test("a full address gives up its own oldest connection that has not logged in", () => {
  const { slots, closed, admit, releaseAll } = harness(10, 2);
  const a1 = admit("10.0.0.1") as Slot;
  admit("10.0.0.2");
  admit("10.0.0.1");
  assert.ok(admit("10.0.0.1") instanceof Slot);
  assert.deepEqual(closed, [[a1.id, "evicted"]], "the oldest of 10.0.0.1, not 10.0.0.2's");
  assert.equal(slots.size, 3);
  releaseAll();
});

Deno.test("a full server gives up its oldest connection that has not logged in", () => {
  const { closed, admit, releaseAll } = harness(3, 10);
  const first = admit("10.0.0.1") as Slot;
  const second = admit("10.0.0.2") as Slot;
  admit("10.0.0.3");
  first.loggedIn();
  assert.ok(admit("10.0.0.4") instanceof Slot);
  assert.deepEqual(closed, [[second.id, "evicted"]], "logged-in connections are never evicted");
  releaseAll();
});

Deno.test("when every candidate slot is logged in, the new connection is refused", () => {
  const { admit, releaseAll } = harness(2, 1);
  (admit("10.0.0.1") as Slot).loggedIn();
  assert.deepEqual(admit("10.0.0.1"), { refused: "limit of 1 per address reached" });
  (admit("10.0.0.2") as Slot).loggedIn();
  assert.deepEqual(admit("10.0.0.3"), { refused: "limit of 2 reached" });
  releaseAll();
});

Deno.test("a connection not logged in by the deadline is closed and frees its slot", async () => {
  const { slots, closed, admit, releaseAll } = harness(10, 10, 20);
  const slow = admit("10.0.0.1") as Slot;
  const quick = admit("10.0.0.1") as Slot;
  quick.loggedIn();
  await until(() => closed.length > 0, { what: "the login deadline" });
  assert.deepEqual(closed, [[slow.id, "login_timeout"]]);
  assert.equal(slots.size, 1);
  releaseAll();
});

Deno.test("addressKey counts IPv4 addresses singly and IPv6 by /64", () => {
  assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("2001:db8:a:b:1:2:3:4"), "2001:db8:a:b::/64");
  assert.equal(addressKey("2001:db8:a:b::9"), "2001:db8:a:b::/64");
  assert.equal(addressKey("2001:0db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
});
