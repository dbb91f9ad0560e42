/**
 * The FileStore contract on MongoDB: FerretDB started for this file, or the
 * MongoDB named by `SSP_TEST_MONGO_URL`. Never skipped.
 */
import { dropDatabase, startFerretDb } from "../../scripts/ferretdb.ts";
import { fileStoreContract } from "./file_contract.ts";
import { MongoFileStore } from "./mongo_files.ts";

const external = Deno.env.get("SSP_TEST_MONGO_URL");
const ferret = external ? null : await startFerretDb();
const url = external ?? ferret!.url;
let n = 0;

fileStoreContract("MongoFileStore", async () => {
  const dbName = `ssp_files_${Date.now().toString(36)}_${n++}`;
  return {
    files: await MongoFileStore.connect(url, { dbName }),
    cleanup: () => dropDatabase(url, dbName),
  };
});
