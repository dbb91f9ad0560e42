/**
 * The server after a fuzz run: which connections it still holds, and
 * whether it still serves real clients.
 *
 * @module
 */
import { newMessageId } from "../lib/protocol/mod.ts";
import { until } from "../lib/testing/mod.ts";
import type { TestServer } from "./harness.ts";
import { type TestUser, textsOf, userSession } from "./users.ts";
import { FUZZ_DEADLINE_MS } from "./fuzz_failure.ts";

/** Connection ids the server logged as connected and not yet as gone. */
export function openConnections(server: TestServer): unknown[] {
  const open = new Set<unknown>();
  for (const event of server.events) {
    if (event.event === "connected") open.add(event.conn);
    if (["handshake_failed", "disconnected", "connection_failed"].includes(String(event.event))) {
      open.delete(event.conn);
    }
  }
  return [...open];
}

/** Drops the logged events of connections that have ended: a long run would keep millions. */
export function forgetEndedConnections(server: TestServer): void {
  const open = new Set(openConnections(server));
  const kept = server.events.filter((event) => open.has(event.conn));
  server.events.splice(0, server.events.length, ...kept);
}

/**
 * After a fuzz run: every connection but `staying` of them closes, and a
 * real client logs in again as `sender` (from its own data dir: a known
 * device) and delivers a message to `recipient` (logged in, one of the
 * connections that stay).
 */
export async function assertStillServing(
  server: TestServer,
  sender: TestUser,
  recipient: TestUser,
  staying = 1,
): Promise<void> {
  await until(() => openConnections(server).length === staying, {
    what: "the fuzzer's connections to end",
    deadlineMs: FUZZ_DEADLINE_MS,
  });
  const again = await userSession(server, sender.phone, { dataDir: sender.dataDir });
  try {
    const text = `still there? ${newMessageId()}`;
    await again.session.messenger.send([recipient.phone], { kind: "text", text });
    await until(() => textsOf(recipient.received).includes(text), {
      what: "the message to arrive",
      deadlineMs: FUZZ_DEADLINE_MS,
    });
  } finally {
    again.session.close();
  }
}
