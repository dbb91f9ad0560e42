/**
 * Request ids are uint32 (docs/protocol.md §5.5): the server answers ids 0
 * and 2^32 − 1 with the same id, and ends the connection with `bad_message`
 * for 2^32.
 */
import assert from "node:assert/strict";
import { connect } from "../lib/client/mod.ts";
import { decodeServerMessage, encodeAppMessage } from "../lib/protocol/mod.ts";
import { EXAMPLE_PHONE } from "../lib/phone.ts";
import { startTestServer, tempDir } from "./harness.ts";

const MAX_REQUEST_ID = 2 ** 32 - 1;

Deno.test("request ids 0 and 2^32 − 1 are answered; 2^32 is bad_message", async () => {
  const server = await startTestServer();
  const dataDir = await tempDir();
  try {
    const { channel } = await connect({ server: server.address, dataDir });
    try {
      for (const id of [0, MAX_REQUEST_ID]) {
        await channel.send(encodeAppMessage({ t: "ping", id }));
        assert.deepEqual(decodeServerMessage((await channel.receive())!), { t: "pong", id });
        await channel.send(encodeAppMessage({ t: "prelogin", id, phone: EXAMPLE_PHONE }));
        const reply = decodeServerMessage((await channel.receive())!);
        assert.equal(reply.t, "prelogin_ok");
        assert.equal("id" in reply && reply.id, id);
      }
      await channel.send(encodeAppMessage({ t: "ping", id: MAX_REQUEST_ID + 1 }));
      const alert = decodeServerMessage((await channel.receive())!);
      assert.equal(alert.t, "alert");
      assert.equal(alert.t === "alert" && alert.code, "bad_message");
      assert.equal(await channel.receive(), null, "the server closes after the alert");
    } finally {
      channel.close();
    }
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
