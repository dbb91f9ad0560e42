/**
 * The release workflow builds what scripts/compile.ts defines: the same
 * targets, the permissions only from scripts/compile.ts, the tests first,
 * and SHA-256 sums beside the binaries.
 */
import assert from "node:assert/strict";
import {
  compileArgs,
  outputPath,
  PERMISSIONS,
  PROGRAMS,
  RELEASE_TARGETS,
  SERVER_V8_FLAGS,
} from "../scripts/compile.ts";
import { ROOT } from "./programs.ts";

const WORKFLOW = await Deno.readTextFile(`${ROOT}.github/workflows/release.yml`);
const CONFIG = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));

/** The `run:` text of the workflow step named `name` (a one-line or block scalar). */
function step(name: string): string {
  const start = WORKFLOW.indexOf(`- name: ${name}\n`);
  assert.ok(start >= 0, `the workflow has a step "${name}"`);
  const next = WORKFLOW.indexOf("\n      - ", start + 1);
  return WORKFLOW.slice(start, next < 0 ? undefined : next);
}

Deno.test("release.yml runs on v* tags, tests first, then compiles scripts/compile.ts's targets", () => {
  assert.match(WORKFLOW, /on:\n {2}push:\n {4}tags: \["v\*"\]/);
  assert.match(step("Test"), /run: npx -y deno@2\.9\.6 task test\n/);
  assert.ok(WORKFLOW.indexOf("- name: Test") < WORKFLOW.indexOf("- name: Compile"));
  const compile = step("Compile");
  assert.match(compile, /npx -y deno@2\.9\.6 task -q compile --target "\$target"/);
  const named = compile.match(/\b[a-z0-9_]+-(?:unknown-linux-gnu|apple-darwin|pc-windows-msvc)\b/g);
  assert.deepEqual(named, [...RELEASE_TARGETS]);
});

Deno.test("release binaries get their permissions only from scripts/compile.ts", () => {
  // The workflow names no permission flag of its own: `deno task compile` runs scripts/compile.ts.
  assert.doesNotMatch(WORKFLOW, /--allow-|\s-A\b/);
  assert.match(CONFIG.tasks.compile, /^deno run [^]* scripts\/compile\.ts$/);
  // The binaries ask for what the server task does, no more, and the server runs with its V8 flags.
  for (const task of ["server", "start"]) {
    const flags = (CONFIG.tasks[task] as string).split(" ").filter((a) => a.startsWith("--"));
    assert.deepEqual(flags, [...PERMISSIONS, ...SERVER_V8_FLAGS], `the ${task} task`);
  }
  const serverArgs = compileArgs("server.ts", outputPath("ssp-server"));
  assert.deepEqual(serverArgs.slice(1, 1 + PERMISSIONS.length + SERVER_V8_FLAGS.length), [
    ...PERMISSIONS,
    ...SERVER_V8_FLAGS,
  ]);
  for (const target of RELEASE_TARGETS) {
    const args = compileArgs("client.ts", outputPath("ssp-client", target), target);
    assert.deepEqual(args.slice(0, 1 + PERMISSIONS.length), ["compile", ...PERMISSIONS]);
    assert.ok(args.join(" ").includes(`--target ${target} --output dist/ssp-client-${target}`));
  }
  assert.equal(
    outputPath("ssp-server", "x86_64-pc-windows-msvc"),
    "dist/ssp-server-x86_64-pc-windows-msvc.exe",
  );
  assert.equal(outputPath("ssp-server"), "dist/ssp-server");
});

Deno.test("release.yml attaches every binary and SHA256SUMS of them to the release", () => {
  const names = PROGRAMS.map(([, name]) => name);
  assert.match(
    step("Checksums"),
    new RegExp(`sha256sum ${names.map((n) => `${n}-\\*`).join(" ")} > SHA256SUMS`),
  );
  const release = step("Release");
  assert.match(release, /gh release create "\$GITHUB_REF_NAME"/);
  for (const name of names) assert.ok(release.includes(`dist/${name}-*`), name);
  assert.ok(release.includes("dist/SHA256SUMS"));
  assert.match(WORKFLOW, /permissions:\n {2}contents: write/);
});

Deno.test("deno task compile refuses a target it does not know, naming the ones it does", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "scripts/compile.ts", "--target", "riscv64-linux"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(result.code, 2);
  const stderr = new TextDecoder().decode(result.stderr);
  assert.match(stderr, /error: unknown target riscv64-linux/);
  for (const target of RELEASE_TARGETS) assert.ok(stderr.includes(target), target);
});

Deno.test("deno task compile checks DENORT_BIN before compiling", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "scripts/compile.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENORT_BIN: "/nonexistent/denort" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(result.code, 1);
  assert.match(
    new TextDecoder().decode(result.stderr),
    /error: DENORT_BIN=\/nonexistent\/denort does not exist/,
  );
});
