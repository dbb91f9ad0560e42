/**
 * The registration limits across servers: three in-process servers on one
 * FerretDB database (tests/cluster.ts) admit, for registrations spread over
 * all of them at once, exactly what one server admits: the per-address
 * allowance and the total per hour (docs/security.md, "Login and
 * registration throttling"). Every connection comes from 127.0.0.1, so all
 * registrations share one address. Never skipped.
 */
import assert from "node:assert/strict";
import { connect, RpcConnection } from "../lib/client/mod.ts";
import { registerRaw } from "../lib/testing/mod.ts";
import { startFerretDb } from "../scripts/ferretdb.ts";
import { type ClusterSetup, withCluster } from "./cluster.ts";
import { tempDir, type TestServer } from "./harness.ts";

const ferret = await startFerretDb();
/** No bus: registrations need none (the cluster's servers do not start one). */
const backends = { mongoUrl: ferret.url, natsUrl: "" };

const options = { sanitizeOps: false, sanitizeResources: false };

/** Connections per server, all registering at once. */
const CONNECTIONS_PER_SERVER = 3;
/** Registrations each connection makes, one after the other. */
const REGISTRATIONS_PER_CONNECTION = 4;

/** Registers `phones` through `server` on one connection; each outcome's code ("ok"). */
async function registerThrough(server: TestServer, phones: string[]): Promise<string[]> {
  const dataDir = await tempDir();
  const rpc = new RpcConnection((await connect({ server: server.address, dataDir })).channel);
  try {
    return (await registerRaw(rpc, phones)).map((refusal) => {
      if (refusal === null) return "ok";
      assert.equal(refusal.code, "rate_limited", refusal.message);
      assert.match(refusal.message, /too many new accounts/);
      assert.ok((refusal.retryAfterMs ?? 0) > 0 && refusal.hint, "a wait and a hint");
      return refusal.code;
    });
  } finally {
    rpc.close();
  }
}

/**
 * Starts three servers with `registrations` and registers 36 new numbers
 * through them at once (three connections per server, four numbers each);
 * the outcomes' codes.
 */
async function registerEverywhere(
  registrations: NonNullable<ClusterSetup["registrations"]>,
): Promise<string[]> {
  let codes: string[] = [];
  await withCluster(backends, { registrations, bus: false }, async (servers) => {
    const runs = servers.flatMap((server, s) =>
      Array.from({ length: CONNECTIONS_PER_SERVER }, (_, c) =>
        registerThrough(
          server,
          Array.from(
            { length: REGISTRATIONS_PER_CONNECTION },
            (_, i) => `+1201555${(s * 100 + c * 10 + i).toString().padStart(4, "0")}`,
          ),
        ))
    );
    codes = (await Promise.all(runs)).flat();
  });
  assert.equal(codes.length, 3 * CONNECTIONS_PER_SERVER * REGISTRATIONS_PER_CONNECTION);
  return codes;
}

function count(codes: string[], code: string): number {
  return codes.filter((c) => c === code).length;
}

Deno.test({
  name: "registrations from one address spread over three servers get one server's allowance",
  ...options,
  async fn() {
    // 5 per server: each server alone would admit 5, three of them 15.
    const codes = await registerEverywhere({ registrationsPerAddress: 5 });
    assert.equal(count(codes, "ok"), 5, codes.join(","));
    assert.equal(count(codes, "rate_limited"), codes.length - 5);
  },
});

Deno.test({
  name: "registrations spread over three servers get one server's total per hour",
  ...options,
  async fn() {
    const codes = await registerEverywhere({
      registrationsPerAddress: 1000,
      registrationsPerHour: 4,
    });
    assert.equal(count(codes, "ok"), 4, codes.join(","));
    assert.equal(count(codes, "rate_limited"), codes.length - 4);
  },
});
