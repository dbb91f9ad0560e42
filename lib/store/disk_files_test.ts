import { DiskFileStore } from "./disk_files.ts";
import { fileStoreContract } from "./file_contract.ts";

fileStoreContract("DiskFileStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssp-files-" });
  return {
    files: await DiskFileStore.open(dir),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});
