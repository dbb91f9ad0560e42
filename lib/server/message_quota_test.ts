/**
 * The message quota shared by two servers (two MessageQuotas, each with its
 * own MongoStore, on one FerretDB database). Never skipped.
 */
import assert from "node:assert/strict";
import { SspError } from "../errors.ts";
import { MongoStore } from "../store/mod.ts";
import { dropDatabase, startFerretDb } from "../../scripts/ferretdb.ts";
import { MessageQuota, type MessageUsage, type SettleReservation } from "./message_quota.ts";

const ferret = await startFerretDb();
const PHONE = "+12015550101";

async function twoServers(quota: number) {
  const dbName = `ssp_quota_${Date.now().toString(36)}`;
  const stores = [
    await MongoStore.connect(ferret.url, { dbName }),
    await MongoStore.connect(ferret.url, { dbName }),
  ];
  const quotas = await Promise.all(
    stores.map(async (store) =>
      new MessageQuota(store, quota, await store.stateChain<MessageUsage>("message_usage"))
    ),
  );
  return {
    quotas,
    async close() {
      for (const store of stores) await store.close();
      await dropDatabase(ferret.url, dbName);
    },
  };
}

/** Reserves; the settle function, or null if refused for the quota. */
function reserve(quota: MessageQuota, bytes: number): Promise<SettleReservation | null> {
  return quota.reserve(PHONE, bytes).catch((error) => {
    assert.ok(error instanceof SspError && error.code === "over_message_quota", String(error));
    return null;
  });
}

Deno.test("a shared message quota admits exactly what fits across servers and takes back what was not stored", async () => {
  const { quotas: [a, b], close } = await twoServers(3000);
  try {
    const first = await Promise.all(
      Array.from({ length: 10 }, (_, i) => reserve(i % 2 ? a! : b!, 500)),
    );
    const admitted = first.filter((s) => s !== null);
    assert.equal(admitted.length, 6);
    // Two were not stored after all (a failure, a duplicate): their 1000 bytes come back.
    admitted[0]!(false);
    admitted[1]!(false);
    for (const settle of admitted.slice(2)) settle(true);
    let again: (SettleReservation | null)[] = [];
    // The give-backs are applied in the background: wait until they show.
    for (let i = 0; i < 50 && again.filter(Boolean).length < 2; i++) {
      for (const settle of again) settle?.(false);
      again = await Promise.all([reserve(a!, 500), reserve(b!, 500), reserve(a!, 500)]);
    }
    assert.equal(again.filter((s) => s !== null).length, 2);
    assert.equal(await reserve(b!, 1), null, "full");
  } finally {
    await close();
  }
});
