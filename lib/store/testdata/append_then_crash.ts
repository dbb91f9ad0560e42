/**
 * Child process of the crash test in `sqlite_test.ts`: opens the store at
 * `Deno.args[0]` and appends envelopes from 8 concurrent writers forever,
 * printing one JSON line `{"clientId":…,"seq":…}` per acknowledged envelope.
 * The parent kills it with SIGKILL mid-stream, then checks every printed ack.
 *
 * @module
 */
import { SqliteStore } from "../sqlite.ts";

const store = SqliteStore.open(Deno.args[0]!);
const encoder = new TextEncoder();
let next = 0;

async function writer(): Promise<never> {
  for (;;) {
    const clientId = `m${next++}`;
    const [ack] = await store.appendEnvelopes([{
      sender: "+15550000001",
      clientId,
      recipients: ["+15550000002"],
      conversation: "+15550000001,+15550000002",
      body: encoder.encode(clientId),
    }]);
    // Written synchronously, so a line on the pipe means the commit returned.
    Deno.stdout.writeSync(encoder.encode(JSON.stringify({ clientId, seq: ack!.seq }) + "\n"));
  }
}

await Promise.all(Array.from({ length: 8 }, writer));
