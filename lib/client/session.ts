/**
 * Opening a logged-in session: connect (checking the server's pinned key),
 * log in (or register), and set up messaging.
 *
 * @module
 */
import { AuthError, SspError } from "../errors.ts";
import { type Account, login, register } from "./account.ts";
import { connect, type ConnectConfig, type ServerConnection } from "./connect.ts";
import { type Incoming, Messenger } from "./messenger.ts";
import { RpcConnection } from "./rpc.ts";
import { ClientState } from "./state.ts";

/** What opening a session needs. */
export interface SessionConfig extends ConnectConfig {
  phone: string;
  password: string;
  /** "login" (default) or "register" (then log in). */
  mode?: "login" | "register";
  /** Receives delivered envelopes from the first one on (none can slip by before it is set). */
  onIncoming?: (incoming: Incoming) => void;
}

/** A logged-in session. */
export interface Session {
  connection: ServerConnection;
  rpc: RpcConnection;
  state: ClientState;
  account: Account;
  messenger: Messenger;
  /** Whether the account was created by this call. */
  registered: boolean;
  /** Closes the connection and the client database; later calls do nothing. */
  close(): void;
}

/** Connects, then registers (mode "register") and/or logs in. */
export async function openSession(config: SessionConfig): Promise<Session> {
  const connection = await connect(config);
  const rpc = new RpcConnection(connection.channel);
  const state = await ClientState.open(config.dataDir, config.phone);
  try {
    const registered = config.mode === "register";
    const credentials = registered
      ? await register(rpc, state, config.phone, config.password)
      : config.password;
    const account = await login(rpc, state, config.phone, credentials);
    const messenger = new Messenger(rpc, state, account);
    let closed = false;
    if (config.onIncoming) messenger.onIncoming = config.onIncoming;
    return {
      connection,
      rpc,
      state,
      account,
      messenger,
      registered,
      close() {
        if (closed) return;
        closed = true;
        rpc.close();
        state.close();
      },
    };
  } catch (error) {
    rpc.close();
    state.close();
    throw error;
  }
}

/** True if `error` is the uniform "wrong number or password" refusal. */
export function isLoginFailure(error: unknown): boolean {
  return error instanceof SspError && error.code === "auth_failed" ||
    error instanceof AuthError && error.code === "auth_failed";
}
