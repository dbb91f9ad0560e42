import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { StorageError } from "../errors.ts";
import { account, storeContract } from "./contract.ts";
import { EMBEDDED_DB_FILE, openEmbeddedStore } from "./mod.ts";
import { SqliteStore } from "./sqlite.ts";
import type { NewEnvelope } from "./types.ts";

storeContract("SqliteStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-store-" });
  const store = await openEmbeddedStore(dir);
  return {
    store,
    async cleanup() {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

function envelope(clientId: string): NewEnvelope {
  return {
    sender: "+15550000001",
    clientId,
    recipients: ["+15550000002"],
    conversation: "+15550000001,+15550000002",
    body: new TextEncoder().encode(clientId),
  };
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ssp-store-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SqliteStore keeps accounts, envelopes and cursors across close and reopen", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, EMBEDDED_DB_FILE);
    const first = SqliteStore.open(path);
    const acks = await first.appendEnvelopes([envelope("a"), envelope("b")]);
    await first.setDeliveredSeq("+15550000002", acks[0]!.seq);
    await first.close();

    // Reopening runs the migrations again; they must be no-ops.
    const second = SqliteStore.open(path);
    try {
      const stored = await second.mailbox("+15550000002", 0, 10);
      assert.deepEqual(stored.map((e) => e.clientId), ["a", "b"]);
      assert.equal(await second.getDeliveredSeq("+15550000002"), acks[0]!.seq);
      const [again] = await second.appendEnvelopes([envelope("a"), envelope("c")]);
      assert.deepEqual(again, { ...acks[0]!, duplicate: true });
    } finally {
      await second.close();
    }
  });
});

Deno.test("SqliteStore groups 200 concurrent appends into far fewer commits", async () => {
  await withTempDir(async (dir) => {
    const store = SqliteStore.open(join(dir, EMBEDDED_DB_FILE));
    try {
      const acks = await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.appendEnvelopes([envelope(`m${i}`)])),
      );
      assert.equal(new Set(acks.flat().map((a) => a.seq)).size, 200);
      assert.ok(store.flushes <= 10, `expected at most 10 commits, got ${store.flushes}`);
      assert.equal(store.flushedEnvelopes, 200);
    } finally {
      await store.close();
    }
  });
});

Deno.test("SqliteStore keeps every acknowledged envelope when the process is killed", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, EMBEDDED_DB_FILE);
    const script = new URL("./testdata/append_then_crash.ts", import.meta.url);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, script.pathname, path],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();

    const acks = new Map<string, number>();
    let killed = false;
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const { clientId, seq } = JSON.parse(line) as { clientId: string; seq: number };
        acks.set(clientId, seq);
      }
      // Kill mid-stream, while the child still has appends in flight (once: lines already in
      // the pipe keep arriving after the kill).
      if (acks.size >= 300 && !killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    }
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    assert.ok(acks.size >= 300, `child acknowledged only ${acks.size} envelopes`);

    const store = SqliteStore.open(path);
    try {
      const stored = new Map(
        (await store.mailbox("+15550000002", 0, 1_000_000)).map((e) => [e.clientId, e.seq]),
      );
      for (const [clientId, seq] of acks) {
        assert.equal(stored.get(clientId), seq, `acknowledged envelope ${clientId} was lost`);
      }
    } finally {
      await store.close();
    }
  });
});

Deno.test("SqliteStore.open() reports a corrupt file as a StorageError", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, EMBEDDED_DB_FILE);
    await Deno.writeFile(path, new TextEncoder().encode("this is not a database ".repeat(200)));
    assert.throws(() => SqliteStore.open(path), (error) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "storage_failed");
      assert.match(error.message, /Cannot open the database .*ssp\.db: file is not a database/);
      assert.match(error.hint ?? "", /backup/);
      assert.ok(error.cause instanceof Error);
      return true;
    });
  });
});

Deno.test("SqliteStore refuses a database with a newer schema version", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, EMBEDDED_DB_FILE);
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    db.exec("INSERT INTO schema_version VALUES (999)");
    db.close();
    assert.throws(() => SqliteStore.open(path), (error) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /schema version 999, newer than this ssp understands/);
      return true;
    });
  });
});

Deno.test("SqliteStore rejects calls after close() with a StorageError", async () => {
  await withTempDir(async (dir) => {
    const store = SqliteStore.open(join(dir, EMBEDDED_DB_FILE));
    await store.close();
    await assert.rejects(store.appendEnvelopes([envelope("late")]), StorageError);
    await assert.rejects(store.getAccount("+15550000001"), StorageError);
    await store.close(); // a second close is harmless
  });
});

Deno.test("SqliteStore rejects a negative or fractional page limit", async () => {
  await withTempDir(async (dir) => {
    const store = SqliteStore.open(join(dir, EMBEDDED_DB_FILE));
    try {
      await assert.rejects(store.mailbox("+15550000002", 0, -1), RangeError);
      await assert.rejects(store.history("+15550000002", "x", { limit: 1.5 }), RangeError);
    } finally {
      await store.close();
    }
  });
});

Deno.test("openEmbeddedStore() creates the data directory", async () => {
  await withTempDir(async (dir) => {
    const dataDir = join(dir, "nested", "data");
    const store = await openEmbeddedStore(dataDir);
    await store.close();
    assert.ok((await Deno.stat(join(dataDir, EMBEDDED_DB_FILE))).isFile);
  });
});

Deno.test("SqliteStore rolls back a failed batch and keeps accepting appends", async () => {
  await withTempDir(async (dir) => {
    const store = SqliteStore.open(join(dir, EMBEDDED_DB_FILE));
    try {
      // A body SQLite cannot bind fails the whole batch, including "good".
      const bad = { ...envelope("bad"), body: {} as unknown as Uint8Array };
      const outcomes = await Promise.allSettled([
        store.appendEnvelopes([envelope("good")]),
        store.appendEnvelopes([bad]),
      ]);
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        const error = (outcome as PromiseRejectedResult).reason;
        assert.ok(error instanceof StorageError);
        assert.match(error.message, /^Cannot append 2 envelopes: /);
      }
      assert.deepEqual(await store.mailbox("+15550000002", 0, 10), []);
      const [ack] = await store.appendEnvelopes([envelope("good")]);
      assert.equal(ack!.duplicate, false);
    } finally {
      await store.close();
    }
  });
});

Deno.test("SqliteStore: credentials replaced by a password change do not stay in the file", async () => {
  await withTempDir(async (dir) => {
    const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
    const old = { verifier: random(32), keyBackup: random(120) };
    const store = await openEmbeddedStore(dir);
    // Neighbours on the page: the old row leaves a hole among them rather than an empty page.
    await store.createAccount(account("+15550000000"));
    await store.createAccount({ ...account("+15550000001"), ...old });
    await store.createAccount(account("+15550000002"));
    assert.equal(
      await store.updateCredentials("+15550000001", {
        kdfSalt: random(16),
        kdfParams: "{}",
        verifierSalt: random(16),
        verifier: random(32),
        keyBackup: random(200),
      }),
      true,
    );
    const files = () =>
      Buffer.concat(
        [...Deno.readDirSync(dir)].map((entry) => Deno.readFileSync(join(dir, entry.name))),
      );
    for (const when of ["while open", "after close"]) {
      if (when === "after close") await store.close();
      const bytes = files();
      assert.equal(bytes.indexOf(old.verifier), -1, `old verifier ${when}`);
      assert.equal(bytes.indexOf(old.keyBackup), -1, `old key backup ${when}`);
    }
  });
});
