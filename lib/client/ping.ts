/**
 * Round-trip probe over an established channel.
 *
 * @module
 */
import { decodeServerMessage, encodeAppMessage } from "../protocol/mod.ts";
import type { SecureChannel } from "../channel/mod.ts";
import { ProtocolError } from "../errors.ts";

/** Sends one ping and waits for its pong; resolves to the round-trip time in ms. */
export async function ping(channel: SecureChannel, id: number): Promise<number> {
  const start = performance.now();
  await channel.send(encodeAppMessage({ t: "ping", id }));
  const body = await channel.receive();
  if (body === null) throw new ProtocolError("connection_closed", "server closed the connection");
  const reply = decodeServerMessage(body);
  if (reply.t === "alert") {
    throw new ProtocolError(`server_${reply.code}`, `server closed the channel: ${reply.message}`);
  }
  if (reply.t !== "pong" || reply.id !== id) {
    throw new ProtocolError("bad_pong", `expected pong ${id}, got ${reply.t}`);
  }
  return performance.now() - start;
}
