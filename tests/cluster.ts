/**
 * Several in-process servers over one store, as `ssp-server --mongo` runs
 * them: each with its own MongoStore and MongoFileStore on one fresh FerretDB
 * database and its own connection to a nats-server (or no bus), sharing each
 * number's login budget. Used by the scale tests.
 *
 * @module
 */
import { NatsBus } from "../lib/bus/mod.ts";
import {
  type AccountLimits,
  type Bucket,
  type MessageUsage,
  sharedLoginThrottles,
} from "../lib/server/mod.ts";
import { MongoStore } from "../lib/store/mod.ts";
import { MongoFileStore } from "../lib/store/mongo_files.ts";
import { dropDatabase } from "../scripts/ferretdb.ts";
import { startTestServer, type TestServer, type TestServerOptions } from "./harness.ts";
import type { TestUser } from "./users.ts";

/** Where the cluster's database and bus are. */
export interface ClusterBackends {
  /** A FerretDB (or MongoDB) URL. */
  mongoUrl: string;
  /** A nats-server URL. */
  natsUrl: string;
}

/** What kind of cluster to start. */
export interface ClusterSetup {
  /** Servers (default 3). */
  count?: number;
  /** False: no bus (the servers see each other's envelopes at each poll). */
  bus?: boolean;
  /** Default: longer than any test, so a message that arrives came through the bus. */
  pollIntervalMs?: number;
  /** The login throttles' clock. */
  now?: () => number;
  /** Registration limits of every server. */
  registrations?: Pick<AccountLimits, "registrationsPerAddress" | "registrationsPerHour">;
  /** More options for every server (limits, quotas). */
  server?: Pick<
    TestServerOptions,
    "quotaBytes" | "maxFileBytes" | "messageQuotaBytes" | "uploadLeaseMs" | "sendRate"
  >;
}

/** Running servers and how to stop them. */
export interface Cluster {
  servers: TestServer[];
  /** The database they share. */
  dbName: string;
  stop(): Promise<void>;
}

/** Longer than any test: a message that arrives came through the bus, not the poll. */
const NO_POLL_MS = 600_000;

let clusters = 0;

/** `count` servers sharing one fresh database and the bus (or none: `bus: false`). */
export async function startCluster(
  backends: ClusterBackends,
  options: ClusterSetup = {},
): Promise<Cluster> {
  const dbName = `ssp_scale_${Date.now().toString(36)}_${clusters}`;
  const prefix = `test${Date.now().toString(36)}x${clusters++}`;
  const parts: { server: TestServer; close(): Promise<void> }[] = [];
  for (let i = 0; i < (options.count ?? 3); i++) {
    const store = await MongoStore.connect(backends.mongoUrl, { dbName });
    const files = await MongoFileStore.connect(backends.mongoUrl, { dbName });
    const bus = options.bus === false ? null : await NatsBus.connect(backends.natsUrl, { prefix });
    const now = options.now ?? Date.now;
    const server = await startTestServer({
      ...options.server,
      store,
      files,
      accountLimits: {
        ...options.registrations,
        now,
        shared: sharedLoginThrottles(await store.stateChain("login_throttle"), now),
        sharedRegistrations: await store.stateChain<Bucket>("registration_limits"),
      },
      cluster: { bus, pollIntervalMs: options.pollIntervalMs ?? NO_POLL_MS },
      messageUsage: await store.stateChain<MessageUsage>("message_usage"),
    });
    parts.push({
      server,
      async close() {
        await server.stop();
        await bus?.close();
        await store.close();
        await files.close();
      },
    });
  }
  return {
    servers: parts.map((p) => p.server),
    dbName,
    async stop() {
      for (const part of parts) await part.close();
      await dropDatabase(backends.mongoUrl, dbName);
    },
  };
}

/** Runs `body` with `startCluster(…)`; closes the sessions in `users` and stops it after. */
export async function withCluster(
  backends: ClusterBackends,
  options: ClusterSetup,
  body: (servers: TestServer[], users: TestUser[]) => Promise<void>,
): Promise<void> {
  const { servers, stop } = await startCluster(backends, options);
  const users: TestUser[] = [];
  try {
    await body(servers, users);
  } finally {
    for (const user of users) user.session.close();
    await stop();
  }
}
