import assert from "node:assert/strict";
import { DEFAULT_MAX_SESSIONS_PER_ACCOUNT, OnlineUsers } from "./online.ts";
import type { Bus, BusEvents } from "../bus/mod.ts";
import { MailboxSignals } from "./signals.ts";

/** A bus that records what is published and watched, delivering nothing. */
class RecordingBus implements Bus {
  published: string[] = [];
  watched: string[] = [];
  events: BusEvents | null = null;
  listen(events: BusEvents) {
    this.events = events;
  }
  publish(phone: string) {
    this.published.push(phone);
  }
  watch(phone: string) {
    this.watched.push(phone);
    return Promise.resolve();
  }
  unwatch(phone: string) {
    this.watched = this.watched.filter((p) => p !== phone);
  }
  close() {
    return Promise.resolve();
  }
}

function setUp() {
  const bus = new RecordingBus();
  const signals = new MailboxSignals({ bus, pollIntervalMs: 3_600_000 });
  const online = new OnlineUsers(DEFAULT_MAX_SESSIONS_PER_ACCOUNT, signals);
  signals.attach(online);
  const wakes: string[] = [];
  const session = (phone: string) => ({
    offer() {},
    wake: () => void wakes.push(phone),
    close() {},
  });
  return { bus, signals, online, wakes, session };
}

Deno.test("a commit wakes local sessions and signals the other servers; nothing is pushed directly", () => {
  const { bus, signals, online, wakes, session } = setUp();
  try {
    const offered: number[] = [];
    online.add("+1", {
      offer: (item) => void offered.push(item.seq),
      wake: () => void wakes.push("+1"),
      close() {},
    });
    online.deliver("+1", {
      seq: 7,
      storedAt: 0,
      sender: "+2",
      clientId: "x",
      recipients: ["+1"],
      conversation: "+1,+2",
      body: new Uint8Array(),
    });
    assert.deepEqual(
      offered,
      [],
      "pushed past the store: a lower seq from another server could be skipped",
    );
    assert.ok(wakes.includes("+1"));
    assert.deepEqual(bus.published, ["+1"]);
    online.add("+3", session("+3"));
    bus.events!.signal("+3");
    assert.ok(wakes.includes("+3"), "a signal from the bus wakes that account's sessions");
  } finally {
    signals.close();
  }
});

Deno.test("an account's first session subscribes, and is woken again once the subscription holds; its last unsubscribes", async () => {
  const { bus, signals, online, wakes, session } = setUp();
  try {
    const [a, b] = [session("+1"), session("+1")];
    online.add("+1", a);
    online.add("+1", b);
    assert.deepEqual(bus.watched, ["+1"]);
    await Promise.resolve();
    assert.equal(wakes.length, 2, "both sessions woken after the subscription");
    online.remove("+1", a);
    assert.deepEqual(bus.watched, ["+1"]);
    online.remove("+1", b);
    assert.deepEqual(bus.watched, []);
  } finally {
    signals.close();
  }
});

Deno.test("after the bus reconnects, signals published while it was down are published again, and every session is woken", () => {
  const { bus, signals, online, wakes, session } = setUp();
  try {
    online.add("+9", session("+9"));
    signals.committed("+1");
    bus.events!.disconnected();
    signals.committed("+2"); // the client discards this when it reconnects
    bus.published = [];
    wakes.length = 0;
    bus.events!.reconnected();
    assert.deepEqual(bus.published.sort(), ["+1", "+2"]);
    assert.deepEqual(wakes, ["+9"]);
  } finally {
    signals.close();
  }
});
