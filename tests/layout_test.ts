/**
 * The layout of lib/ as a test: every relative import in the repository is
 * read, and an import that bypasses an area's `mod.ts` or runs back up the
 * layers fails here (see README.md, "Layout").
 */
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { ROOT } from "./programs.ts";

/**
 * The areas of lib/, lowest first. An area may import only areas of a lower
 * rank (loose lib/*.ts files are rank 0); areas of one rank do not import
 * each other. Ranks 1–5 are pure (no I/O); 6 and up are drivers and edges.
 */
const RANK: Record<string, number> = {
  crypto: 1,
  wire: 2,
  handshake: 3,
  protocol: 4,
  e2e: 5,
  channel: 6,
  store: 7,
  bus: 7,
  ui: 8,
  server: 9,
  client: 9,
  cli: 10,
  testing: 11,
};
/** store/mod.ts loads the MongoDB driver, so outsiders import store's public files directly. */
const DIRECT_AREAS = ["store"];

/** Contract suites: test code that lives beside the interface it checks. */
const TEST_SUPPORT = ["lib/store/contract.ts", "lib/store/file_contract.ts"];

interface Import {
  from: string;
  to: string;
  dynamic: boolean;
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    const path = dir === "." ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory && ![".git", "dist", "node_modules", ".ssp-data"].includes(entry.name)) {
      out.push(...await tsFiles(path));
    } else if (entry.isFile && path.endsWith(".ts")) {
      out.push(path);
    }
  }
  return out;
}

async function imports(): Promise<Import[]> {
  const out: Import[] = [];
  for (const file of await tsFiles(".")) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const m of text.matchAll(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"(\.{1,2}\/[^"]+)"/g)) {
      out.push({
        from: file,
        to: normalize(join(dirname(file), m[2]!)),
        dynamic: m[1]!.includes("("),
      });
    }
  }
  return out;
}

function areaOf(path: string): string | undefined {
  const parts = path.split("/");
  return parts[0] === "lib" && parts.length > 2 ? parts[1] : undefined;
}

function rankOf(path: string): number | undefined {
  if (!path.startsWith("lib/")) return undefined;
  const area = areaOf(path);
  return area === undefined ? 0 : RANK[area];
}

/** Why `imp` breaks the layout, or undefined. */
function violation(imp: Import): string | undefined {
  const [fromArea, toArea] = [areaOf(imp.from), areaOf(imp.to)];
  const isTest = imp.from.endsWith("_test.ts") || TEST_SUPPORT.includes(imp.from);
  if (toArea !== undefined && fromArea !== toArea) {
    const name = imp.to.split("/").pop()!;
    if (name.startsWith("_")) return "imports another area's private file";
    const direct = DIRECT_AREAS.includes(toArea) || imp.dynamic;
    if (!direct && name !== "mod.ts" && !imp.to.includes("/testdata/")) {
      return `imports a file of ${toArea}/ other than its mod.ts`;
    }
  }
  if (isTest || fromArea === toArea) return undefined;
  const [from, to] = [rankOf(imp.from), rankOf(imp.to)];
  if (from === undefined || to === undefined) return undefined;
  if (toArea === "testing") return "imports test helpers outside a test";
  if (to > from || (to === from && fromArea !== toArea)) {
    return `runs back up the layers (${fromArea ?? "lib"} ${from} → ${toArea ?? "lib"} ${to})`;
  }
  return undefined;
}

Deno.test("every lib/ area is one of the known layers", async () => {
  const areas = new Set((await tsFiles("lib")).map(areaOf).filter((a) => a !== undefined));
  for (const area of areas) assert.ok(area in RANK, `lib/${area}/ has no rank in layout_test.ts`);
});

Deno.test("every import goes through an area's mod.ts and down the layers", async () => {
  const bad = (await imports()).flatMap((imp) => {
    const why = violation(imp);
    return why ? [`${imp.from} → ${imp.to}: ${why}`] : [];
  });
  assert.deepEqual(bad, []);
});

Deno.test("the layout check catches a bypassed mod.ts, a private file and an upward import", () => {
  const cases: [Import, RegExp][] = [
    [{ from: "lib/server/x.ts", to: "lib/crypto/kdf.ts", dynamic: false }, /other than its mod/],
    [{ from: "tests/x_test.ts", to: "lib/crypto/_aead_node.ts", dynamic: false }, /private/],
    [{ from: "lib/wire/codec.ts", to: "lib/handshake/mod.ts", dynamic: false }, /back up/],
    [{ from: "lib/crypto/x.ts", to: "lib/bytes.ts", dynamic: false }, /^$/],
    [{ from: "lib/server/a.ts", to: "lib/client/mod.ts", dynamic: false }, /back up/],
    [{ from: "lib/e2e/a.ts", to: "lib/store/types.ts", dynamic: false }, /back up/],
    [{ from: "lib/bytes.ts", to: "lib/wire/mod.ts", dynamic: false }, /back up/],
    [{ from: "lib/wire/frames.ts", to: "lib/testing/mod.ts", dynamic: false }, /test helpers/],
    [{ from: "lib/crypto/aead_test.ts", to: "lib/crypto/_aead_node.ts", dynamic: false }, /^$/],
  ];
  for (const [imp, expected] of cases) {
    assert.match(violation(imp) ?? "", expected, `${imp.from} → ${imp.to}`);
  }
});
