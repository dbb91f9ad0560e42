import assert from "node:assert/strict";
import { DiskFileStore } from "./disk_files.ts";
import { fileStoreContract } from "./file_contract.ts";

fileStoreContract("DiskFileStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-files-" });
  return {
    files: await DiskFileStore.open(dir),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

Deno.test("DiskFileStore: parallel creations by one owner fill the quota exactly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-files-" });
  const files = await DiskFileStore.open(dir);
  try {
    const gib8 = 8 * 1024 ** 3;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      files.createFile({
        fileId: i.toString(16).padStart(32, "0"),
        owner: "+12015550101",
        cipherSize: gib8,
        chunkBytes: 1 << 20,
        chunks: gib8 / (1 << 20),
        readers: [],
        announcement: new Uint8Array([1]),
      }, 4 * gib8)));
    assert.equal(results.filter((r) => r.status === "created").length, 4);
    assert.equal(await files.usedBytes("+12015550101"), 4 * gib8);
  } finally {
    await files.close();
    await Deno.remove(dir, { recursive: true });
  }
});
