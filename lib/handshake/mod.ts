/**
 * The ssp handshake as two pure state machines, one per side
 * (docs/protocol.md §3). They take and return frame bodies and do no I/O;
 * `../channel.ts` drives them over a socket.
 *
 *   client                                   server
 *   client_hello  ──────────────────────────▶
 *                 ◀──────────────────────────  server_hello (version, group, share)
 *   client_share  ──────────────────────────▶
 *                 ◀──────────────────────────  server_auth (identity, signature, finished)
 *   client_finished ────────────────────────▶
 *
 * The server signs the hash of the first three messages exactly as they were
 * framed on the wire, so a man in the middle that alters an offer (downgrade)
 * or a share is caught by the client; both finished MACs confirm that each
 * side derived the same keys before any application data flows.
 *
 * @module
 */
export type { HandshakeResult } from "./_common.ts";
export { ClientHandshake, type ClientHandshakeOptions, type ClientState } from "./client.ts";
export {
  ServerHandshake,
  type ServerHandshakeOptions,
  type ServerIdentity,
  type ServerState,
} from "./server.ts";
export * from "./messages.ts";
