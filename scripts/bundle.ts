/**
 * `deno task bundle [OUTDIR]`: builds ssp-server.js and ssp-client.js (in dist/ by default),
 * single JavaScript files with every dependency inside, that run with
 * `deno run` on any machine that has Deno (no network needed).
 *
 * @module
 */

import { PERMISSIONS, SERVER_V8_FLAGS } from "./compile.ts";

const outDir = Deno.args[0] ?? "dist";
const ENTRIES = [["server.ts", "ssp-server.js"], ["client.ts", "ssp-client.js"]] as const;

for (const [entry, name] of ENTRIES) {
  const output = `${outDir}/${name}`;
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", output, entry],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`error: deno bundle ${entry} failed (exit ${code})`);
    Deno.exit(code);
  }
  // Run as the compiled binaries are: the same permissions, and the server with its V8 flags.
  const flags = [...PERMISSIONS, ...(entry === "server.ts" ? SERVER_V8_FLAGS : [])];
  console.log(`${output}  (run: deno run ${flags.join(" ")} ${output})`);
}
