/**
 * Password guessing and mass registration against the default limits: a
 * real server on loopback (one process) for the parallel burst, the owner's
 * logins and registrations, and the account logic over a real embedded store
 * for the eviction flood (its thousands of source addresses cannot be made
 * on loopback).
 *
 * Run with `deno task bench guessing`, or alone with
 * `deno run -A scripts/bench/guessing.ts`.
 *
 * @module
 */
import { connect, openSession, RpcConnection } from "../../lib/client/mod.ts";
import { SspError } from "../../lib/errors.ts";
import { Accounts, DeviceTokens, silentLogger, startServer } from "../../lib/server/mod.ts";
import { DiskFileStore } from "../../lib/store/disk_files.ts";
import { openEmbeddedStore } from "../../lib/store/mod.ts";
import { generateSigningKeyPair, namedGroup } from "../../lib/crypto/mod.ts";
import { registerRaw } from "../../lib/testing/mod.ts";

const OWNER = "+12015550101";
const PASSWORD = "correct horse battery staple";
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return await promise.then(() => "ok", (e) => e instanceof SspError ? e.code : String(e));
}

/** 50 wrong logins at once on 50 connections, then the owner from a known and a new device. */
async function burst(address: string, dir: string): Promise<string[]> {
  const owner = await openSession({
    server: address,
    dataDir: `${dir}/owner`,
    phone: OWNER,
    password: PASSWORD,
    mode: "register",
  });
  owner.close();
  const rpcs = [];
  for (let i = 0; i < 50; i++) {
    rpcs.push(new RpcConnection((await connect({ server: address, dataDir: dir })).channel));
  }
  const codes = await Promise.all(
    rpcs.map((rpc) => codeOf(rpc.request({ t: "login", phone: OWNER, authKey: random(32) }))),
  );
  for (const rpc of rpcs) rpc.close();
  const login = (dataDir: string) =>
    codeOf(
      openSession({ server: address, dataDir, phone: OWNER, password: PASSWORD })
        .then((s) => s.close()),
    );
  const known = await login(`${dir}/owner`);
  const fresh = await login(`${dir}/new-device`);
  return [
    `| 50 wrong passwords at once on 50 connections | ${
      codes.filter((c) => c === "auth_failed").length
    } checked, ${codes.filter((c) => c === "rate_limited").length} \`rate_limited\` |`,
    `| the owner right after, from the device that registered | ${known} |`,
    `| the owner right after, from a new device (after its ~1 s of scrypt) | ${fresh} |`,
  ];
}

/**
 * 5,000 registrations from one address as fast as one connection sends them
 * (the owner of the burst above registered from the same address first).
 */
async function registrations(address: string, dir: string): Promise<string[]> {
  const rpc = new RpcConnection((await connect({ server: address, dataDir: dir })).channel);
  const phones = Array.from({ length: 5000 }, (_, i) => `+120155${String(10000 + i)}`);
  const start = performance.now();
  const codes = (await registerRaw(rpc, phones).finally(() => rpc.close()))
    .map((refusal) => refusal?.code ?? "ok");
  const seconds = (performance.now() - start) / 1000;
  return [
    `| 5,000 more registrations from the same address (${seconds.toFixed(1)} s) | ${
      codes.filter((c) => c === "ok").length
    } created, ${codes.filter((c) => c === "rate_limited").length} \`rate_limited\` |`,
  ];
}

/**
 * The victim's number blocked, then 100,020 failed logins for other numbers
 * from 5,001 addresses (20 each, within the per-address allowance): is the
 * victim still blocked?
 */
async function evictionFlood(dir: string): Promise<string[]> {
  const store = await openEmbeddedStore(`${dir}/flood`);
  try {
    // The clock stands still, so the victim's 1 s block cannot simply run out during the flood:
    // what is measured is whether the flood pushes it out of the table.
    const frozen = Date.now();
    const accounts = new Accounts(store, random(32), "{}", new DeviceTokens(random(32)), {
      now: () => frozen,
    });
    const attempt = (phone: string, address: string) =>
      codeOf(accounts.login(phone, random(32), address));
    for (let i = 0; i < 6; i++) await attempt(OWNER, "10.0.0.1");
    const before = await attempt(OWNER, "10.0.0.2");
    let checked = 0;
    const start = performance.now();
    for (let a = 0; a < 5001; a++) {
      for (let n = 0; n < 20 && a * 20 + n < 100_020; n++) {
        const i = a * 20 + n;
        if (await attempt(`+1${3000000000 + i}`, `10.1.${a >> 8}.${a & 255}`) === "auth_failed") {
          checked++;
        }
      }
    }
    const seconds = (performance.now() - start) / 1000;
    const after = await attempt(OWNER, "10.0.0.3");
    return [
      `| victim's number blocked (6 wrong), then a new address tries it | ${before} |`,
      `| 100,020 wrong logins for other numbers from 5,001 addresses (${
        seconds.toFixed(1)
      } s, ${checked} checked) | — |`,
      `| the victim's number right after the flood, from a new address | ${after} |`,
    ];
  } finally {
    await store.close();
  }
}

/** Runs every scenario; returns a Markdown section. */
export async function run(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-bench-guess-" });
  const store = await openEmbeddedStore(`${dir}/server`);
  const files = await DiskFileStore.open(`${dir}/server/files`);
  const server = startServer({
    store,
    files,
    hostname: "127.0.0.1",
    port: 0,
    identity: await generateSigningKeyPair(),
    groups: [namedGroup("x25519")],
    // The burst's 50 connections all come from 127.0.0.1: give each a slot, so that the
    // login throttle is what is measured (the per-address slot limit is measured by `abuse`).
    maxConnectionsPerAddress: 64,
    log: silentLogger,
  });
  const address = `127.0.0.1:${server.port}`;
  try {
    const rows = [
      ...await burst(address, `${dir}/burst`),
      ...await registrations(address, `${dir}/register`),
      ...await evictionFlood(dir),
    ];
    return [
      "## Guessing and mass registration (default limits)",
      "",
      "| attack | outcome |",
      "| --- | --- |",
      ...rows,
      "",
    ].join("\n");
  } finally {
    await server.shutdown();
    await store.close();
    await files.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) console.log(await run());
