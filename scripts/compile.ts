/**
 * `deno task compile`: builds stand-alone binaries dist/ssp-server and
 * dist/ssp-client with `deno compile`, asking only for the permissions ssp
 * needs. `deno compile` needs Deno's runtime (denort): it downloads it, or
 * takes the file named by DENORT_BIN on machines without that download.
 *
 * @module
 */

const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=osRelease,uid", // the MongoDB driver reads these (ssp-server --mongo)
];
const ENTRIES = [["server.ts", "dist/ssp-server"], ["client.ts", "dist/ssp-client"]] as const;

const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  try {
    await Deno.stat(denort);
  } catch {
    console.error(`error: DENORT_BIN=${denort} does not exist`);
    Deno.exit(1);
  }
}

for (const [entry, output] of ENTRIES) {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["compile", ...PERMISSIONS, "--output", output, entry],
    env: denort ? { DENORT_BIN: denort } : {},
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(
      `error: deno compile ${entry} failed (exit ${code}).\n` +
        "hint: deno compile downloads Deno's runtime (denort) for the target. On a machine " +
        "that cannot download it, set DENORT_BIN to a denort binary of the same Deno version " +
        `(${Deno.version.deno}), or use \`deno task bundle\`, which needs no download.`,
    );
    Deno.exit(code);
  }
  console.log(output);
}
