import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { DiskFileStore } from "./disk_files.ts";
import { fileStoreContract } from "./file_contract.ts";

fileStoreContract("DiskFileStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-files-" });
  return {
    files: await DiskFileStore.open(dir),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

Deno.test("DiskFileStore: a deleted file's readers and announcements do not stay in files.db", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-files-" });
  const files = await DiskFileStore.open(dir);
  const reader = "+12015559876";
  const announcement = crypto.getRandomValues(new Uint8Array(64));
  try {
    await files.createFile({
      fileId: "a".repeat(32),
      owner: "+12015550101",
      cipherSize: 100,
      chunkBytes: 1040,
      chunks: 1,
      readers: [reader],
      announcement,
    });
    await files.deleteFile("a".repeat(32));
    for (const when of ["while open", "after close"]) {
      if (when === "after close") await files.close();
      const bytes = Buffer.concat(
        [...Deno.readDirSync(dir)].map((entry) => Deno.readFileSync(`${dir}/${entry.name}`)),
      );
      assert.equal(bytes.indexOf(reader), -1, `reader ${when}`);
      assert.equal(bytes.indexOf(announcement), -1, `announcement ${when}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
