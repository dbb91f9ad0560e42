import assert from "node:assert/strict";
import { readDhParamsFile, writeDhParamsFile } from "./dhparam_file.ts";
import { FFDHE2048 } from "../crypto/mod.ts";

const canWrite = (await Deno.permissions.query({ name: "write" })).state === "granted";

Deno.test({
  name: "writeDhParamsFile() and readDhParamsFile() round-trip through a file",
  ignore: !canWrite,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/dh.pem`;
      await writeDhParamsFile(path, { p: FFDHE2048.p, g: 2n });
      assert.deepEqual(await readDhParamsFile(path), { p: FFDHE2048.p, g: 2n });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
