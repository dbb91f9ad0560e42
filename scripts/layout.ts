/**
 * Moves lib/'s loose crypto and wire files into areas (`lib/crypto/`,
 * `lib/wire/`, `lib/channel/`), splits `lib/xor.ts` into the raw AEAD
 * (`lib/crypto/aead.ts`) and the record layer (`lib/wire/record.ts`), and
 * rewrites every relative import in the repository to the new places; an
 * import from outside an area goes through the area's `mod.ts`.
 *
 * Deterministic and idempotent: it resolves each specifier to a path and maps
 * the path, so it also fixes files added later that still import an old path
 * ("../channel.ts", "./xor.ts"). Run it from any directory, on a clean tree:
 *
 *     deno run --allow-read --allow-write --allow-run scripts/layout.ts [--dry-run]
 *
 * then `deno fmt`, `deno task check` and `deno task test`. It moves with
 * `git mv`, so git records renames and later merges follow the files.
 *
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));
/** This script: its tables name old paths, which must stay as they are. */
const SELF = "scripts/layout.ts";
const DRY_RUN = Deno.args.includes("--dry-run");

/** One-to-one moves, repository-relative. A file's `x_test.ts` moves with `x.ts`. */
const MOVES: Record<string, string> = {
  "lib/aead_backend.ts": "lib/crypto/aead_backend.ts",
  "lib/_aead_node.ts": "lib/crypto/_aead_node.ts",
  "lib/_aead_openssl.ts": "lib/crypto/_aead_openssl.ts",
  "lib/_aead_types.ts": "lib/crypto/_aead_types.ts",
  "lib/_test_wycheproof.ts": "lib/crypto/_test_wycheproof.ts",
  "lib/kdf.ts": "lib/crypto/kdf.ts",
  "lib/sign.ts": "lib/crypto/sign.ts",
  "lib/dh.ts": "lib/crypto/dh.ts",
  "lib/ffdhe.ts": "lib/crypto/ffdhe.ts",
  "lib/primes.ts": "lib/crypto/primes.ts",
  "lib/frames.ts": "lib/wire/frames.ts",
  "lib/codec.ts": "lib/wire/codec.ts",
  // The channel drives the handshake over a socket, so it sits above handshake/,
  // which itself uses wire/'s codec: in wire/ the two areas would import each other.
  "lib/channel.ts": "lib/channel/channel.ts",
  // Formats client/'s contacts and messages for the commands (it moved there on main).
  "lib/ui/format.ts": "lib/cli/format.ts",
  // The server's side of the bus (online users and mailbox signals); it imports server/ types
  // and server/ imports it, so in bus/ the two areas would import each other.
  "lib/bus/signals.ts": "lib/server/signals.ts",
  // A test helper used by tests of several areas.
  "lib/_test_bytes.ts": "lib/testing/pseudo_random.ts",
};
for (const [from, to] of Object.entries(MOVES)) {
  if (!from.endsWith("_test.ts") && !from.split("/").pop()!.startsWith("_")) {
    MOVES[from.replace(/\.ts$/, "_test.ts")] ??= to.replace(/\.ts$/, "_test.ts");
  }
}

/**
 * A file whose top-level declarations are dealt out to new files. Every
 * top-level statement must be claimed by a part (by its declared name, or for
 * `Deno.test` by its title), be listed in `copy` (small private helpers, copied
 * into each part that uses them) or in `drop`; otherwise the script stops.
 */
interface Split {
  from: string;
  parts: {
    path: string;
    /** The new module's doc comment; `null` keeps the split file's. */
    doc: string | null;
    names: (string | RegExp)[];
    /** Takes every statement no other part claims, and every name importers use that no part lists. */
    rest?: boolean;
    /** Text replacements in the part's statements (comments that name the other part). */
    edits?: [string, string][];
  }[];
  copy: string[];
  drop: string[];
  /** Names importers may take from `from` that it only re-exported: where they really live. */
  reexports: Record<string, string>;
}

const XOR_SPLIT: Split = {
  from: "lib/xor.ts",
  parts: [
    {
      path: "lib/crypto/aead.ts",
      doc: `/**
 * The raw AEAD: ChaCha20-Poly1305 (RFC 8439) sealing and opening into new
 * buffers, and the suite-generic helpers the record layer (\`../wire/record.ts\`)
 * builds on. The primitives come from \`aead_backend.ts\` (OpenSSL's libcrypto,
 * or node:crypto).
 *
 * @module
 */
`,
      names: [
        "chacha20Poly1305Seal",
        "chacha20Poly1305SealParts",
        "splitLike",
        "chacha20Poly1305Open",
        "sealWithPrefix",
        "openSealed",
      ],
      edits: [[
        "{@linkcode RecordSealer}\n * does that bookkeeping.",
        "the record layer\n * (`RecordSealer` in `../wire/record.ts`) does that bookkeeping.",
      ]],
    },
    {
      path: "lib/wire/record.ts",
      doc: `/**
 * The record cipher: "XOR encryption" made sound. Each record is XORed with a
 * keystream and authenticated with a tag: ChaCha20-Poly1305 (RFC 8439), the
 * mandatory suite, or AES-256-GCM where the handshake chose it (§3.2). The
 * sealing itself is \`../crypto/aead.ts\`.
 *
 * {@linkcode RecordSealer} and {@linkcode RecordOpener} add what a bare AEAD
 * leaves to the caller: implicit never-repeating nonces, the frame header as
 * associated data, deterministic rekeying, exhaustion before the counter could
 * wrap, and a channel that stays closed after the first forged record.
 *
 * @module
 */
`,
      names: [
        "REKEY_INFO",
        "RecordLimits",
        "DEFAULT_RECORD_LIMITS",
        "Direction",
        "RecordStream",
        "RecordSealer",
        "RecordOpener",
        "checkLimits",
      ],
    },
  ],
  copy: ["CHACHA", "EMPTY", "checkBytes"],
  drop: ["export{KEY_BYTES,NONCE_BYTES,TAG_BYTES}"],
  reexports: {
    KEY_BYTES: "lib/aead_backend.ts",
    NONCE_BYTES: "lib/aead_backend.ts",
    TAG_BYTES: "lib/aead_backend.ts",
  },
};

const XOR_TEST_SPLIT: Split = {
  from: "lib/xor_test.ts",
  parts: [
    {
      path: "lib/crypto/aead_test.ts",
      doc: "",
      names: [
        /^chacha20Poly1305/,
        "opened plaintexts are standalone arrays, never views of a shared buffer pool",
        "sealing a plaintext in pieces gives exactly the bytes of sealing it whole",
      ],
    },
    { path: "lib/wire/record_test.ts", doc: "", names: [], rest: true },
  ],
  copy: ["KEY_A", "KEY_B", "HEADER", "isRecordError", "nonceFor", "splitAt"],
  drop: [],
  reexports: {},
};

/** dhparam.ts's codec is pure; reading and writing the file is the server's edge. */
const DHPARAM_SPLIT: Split = {
  from: "lib/dhparam.ts",
  parts: [
    { path: "lib/crypto/dhparam.ts", doc: null, names: [], rest: true },
    {
      path: "lib/server/dhparam_file.ts",
      doc: `/**
 * DH parameters files (PEM, the format of \`openssl dhparam\`): the file I/O around the
 * pure codec in \`../crypto/dhparam.ts\`.
 *
 * @module
 */
`,
      names: ["readDhParamsFile", "writeDhParamsFile"],
    },
  ],
  copy: [],
  drop: [],
  reexports: {},
};

const DHPARAM_TEST_SPLIT: Split = {
  from: "lib/dhparam_test.ts",
  parts: [
    { path: "lib/crypto/dhparam_test.ts", doc: "", names: [], rest: true },
    {
      path: "lib/server/dhparam_file_test.ts",
      doc: "",
      names: ["writeDhParamsFile() and readDhParamsFile() round-trip through a file"],
    },
  ],
  copy: ["canWrite"],
  drop: [],
  reexports: {},
};

const SPLITS = [XOR_SPLIT, XOR_TEST_SPLIT, DHPARAM_SPLIT, DHPARAM_TEST_SPLIT];

/**
 * Pure code and its tests that read a DH parameters file read the text and decode it,
 * rather than import the server's file helper.
 */
function inlineReadDhParamsFile(path: string, text: string): string {
  const area = areaOf(finalOf(path)) ?? areaOf(path);
  if (area !== "crypto" && area !== "testing") return text;
  if (!/\breadDhParamsFile\(/.test(text)) return text;
  text = text.replace(
    /await readDhParamsFile\(((?:[^()]|\([^()]*\))*)\)/g,
    "decodeDhParamsPem(await Deno.readTextFile($1))",
  );
  return text.replace(
    NAMED_IMPORT,
    (all, typeOnly: string | undefined, list: string, spec: string) => {
      if (!/(^|\/)dhparam\.ts$/.test(spec) || !/\breadDhParamsFile\b/.test(list)) return all;
      const names = bindings(list, !!typeOnly).map((b) => b.text)
        .map((n) => n === "readDhParamsFile" ? "decodeDhParamsPem" : n);
      return `import { ${[...new Set(names)].join(", ")} } from "${spec}";`;
    },
  );
}

/** The areas of lib/; each is imported from outside only through its `mod.ts`. */
const AREAS: Record<string, string> = {
  crypto: "Cryptographic primitives, pure and without I/O: the AEAD and its backends, HKDF, " +
    "signatures, Diffie-Hellman groups and their parameters, primes.",
  wire:
    "The wire format, pure and without I/O: frames, the MessagePack codec and the record layer.",
  channel: "The secure channel driver: the handshake over a socket, then sealed records.",
  handshake: "",
  protocol: "",
  e2e: "",
  store: "",
  bus: "The message bus between server instances (NATS): signals and presence.",
  ui: "Terminal output, prompts, progress and flags, shared by both programs.",
  server: "The ssp server: sessions, relay, accounts, files, limits.",
  client: "The ssp client: connection, session, messenger, files and the commands.",
  cli: "The client program's commands: flags, prompts, the interactive chat and their output.",
  testing: "Helpers for tests: byte sources, polling, the worked example, dumps.",
};
/** Files that stay loose in lib/: shared by every area, the lowest layer. */
const BASE_FILES = ["lib/bytes.ts", "lib/errors.ts", "lib/address.ts", "lib/phone.ts"];

/**
 * Areas whose public (not `_private`) files outsiders import directly: store/mod.ts
 * loads the MongoDB driver, which a server on the embedded store must not load.
 */
const DIRECT_AREAS = ["store"];
/** Lines a hand-written mod.ts must have, for what outsiders used to import from its files. */
const ENSURE_LINES: Record<string, string[]> = {
  "lib/e2e/mod.ts": [
    'export { CONTENT_DECODER_LIMITS, type FileContent } from "./content.ts";',
    'export * from "./stream.ts";',
  ],
};
const GENERATED_MARK =
  "// Re-exports kept by scripts/layout.ts: it adds a line for each new public file.";

// ---------------------------------------------------------------------------

async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: ROOT, stderr: "inherit" }).output();
  if (!out.success) throw new Error(`git ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout);
}

function fail(message: string): never {
  console.error(`layout: ${message}`);
  Deno.exit(1);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(join(ROOT, path));
    return true;
  } catch {
    return false;
  }
}

/** Repository-relative path `spec` resolves to from a file in `dir`. */
function resolveFrom(dir: string, spec: string): string {
  return normalize(join(dir, spec));
}

function specifier(fromFile: string, target: string): string {
  const rel = relative(dirname(fromFile), target);
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/** `lib/<area>/…` → area name, or undefined. */
function areaOf(path: string): string | undefined {
  const parts = path.split("/");
  return parts[0] === "lib" && parts.length > 2 && parts[1]! in AREAS ? parts[1] : undefined;
}

/** Where an importer outside the target's area must import from. */
function throughMod(importer: string, target: string): string {
  const area = areaOf(target);
  if (!area || areaOf(importer) === area || DIRECT_AREAS.includes(area)) return target;
  if (target.split("/").includes("testdata")) return target;
  return `lib/${area}/mod.ts`;
}

// ---------------------------------------------------------------------------
// Splitting a file into top-level chunks.

interface Chunk {
  /** Declared name, `Deno.test` title, `import`, `doc` or a normalized `export{…}`. */
  name: string;
  text: string;
}

/** Comments before a top-level statement. */
const COMMENTS = /^(?:\/\/[^\n]*\n|\/\*[\s\S]*?\*\/\n|\n)*/;
const DECL =
  /^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\*?|class|const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)/;

function statementName(line: string): string {
  if (line.startsWith("import ")) return "import";
  if (line.startsWith("Deno.test({")) return "Deno.test{";
  if (line.startsWith("Deno.test(")) {
    return line.match(/^Deno\.test\(\s*"([^"]*)"/)?.[1] ??
      fail(`cannot read the test title (put it on the Deno.test line): ${line}`);
  }
  if (line.startsWith("export {")) {
    return "export{" + line.replace(/^export \{([^}]*)\};?$/, "$1").replace(/\s/g, "") + "}";
  }
  return line.match(DECL)?.[1] ?? fail(`cannot name the top-level statement: ${line}`);
}

/** Splits a module into its top-level statements, each with the comments above it. */
function chunks(source: string): Chunk[] {
  const out: Chunk[] = [];
  let pending: string[] = [];
  let current: { name: string; lines: string[] } | undefined;
  let inComment = false;
  const flush = () => {
    if (current) {
      const text = current.lines.join("\n");
      const name = current.name === "Deno.test{"
        ? (text.match(/^\s*name:\s*"([^"]*)"/m)?.[1] ?? fail(`cannot read the test name: ${text}`))
        : current.name;
      out.push({ name, text });
    }
    current = undefined;
  };
  for (const line of source.split("\n")) {
    if (inComment) {
      pending.push(line);
      if (line.includes("*/")) inComment = false;
    } else if (line.startsWith("/*") || line.startsWith("//")) {
      flush();
      pending.push(line);
      if (line.startsWith("/*") && !line.includes("*/")) inComment = true;
    } else if (line === "" || /^\s/.test(line) || /^[}\])]/.test(line)) {
      (current ? current.lines : pending).push(line);
    } else {
      flush();
      current = { name: statementName(line), lines: [...pending, line] };
      pending = [];
    }
  }
  flush();
  if (pending.some((l) => l.trim() !== "")) {
    fail(`cannot assign the comment at the end of the file: ${pending.join("\n")}`);
  }
  // The block that documents the module is its own chunk.
  const first = out[0];
  const doc = first?.text.match(/^\/\*\*[\s\S]*?@module[\s\S]*?\*\/\n/);
  if (first && doc) {
    out.unshift({ name: "doc", text: doc[0] });
    first.text = first.text.slice(doc[0].length).replace(/^\n+/, "");
  }
  return out;
}

/** The code of `text` without comments and string literals, to look up identifiers. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/\/\/[^\n]*/g, " ")
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''");
}

function uses(text: string, name: string): boolean {
  return new RegExp(`(?<![\\w$.])${name.replace(/\$/g, "\\$")}(?![\\w$])`).test(code(text));
}

interface Binding {
  /** Name in the source module. */
  imported: string;
  /** The whole binding as written, e.g. `type Foo` or `a as b`. */
  text: string;
  /** Local name. */
  local: string;
}

const NAMED_IMPORT = /import\s+(type\s+)?\{([^}]*)\}\s*from\s*"([^"]+)";?/g;

function bindings(list: string, typeOnly: boolean): Binding[] {
  return list.split(",").map((s) => s.trim()).filter(Boolean).map((text) => {
    const m = text.match(/^(type\s+)?([\w$]+)(?:\s+as\s+([\w$]+))?$/);
    if (!m) fail(`cannot read the import binding "${text}"`);
    return {
      imported: m[2]!,
      local: m[3] ?? m[2]!,
      text: typeOnly && !m[1] ? `type ${text}` : text,
    };
  });
}

/** Where a name importers take from a split file lives now. */
type Owner = (name: string) => string | undefined;

interface PlannedSplit {
  split: Split;
  /** Part path → new file text; specifiers relative to the part, naming pre-move paths. */
  files: Map<string, string>;
  /** Exported name → part path (or the re-export's true source). */
  owner: Owner;
}

/** Exported name → part path; names no part lists belong to the `rest` part. */
function ownerMap(split: Split): Owner {
  const owner = new Map<string, string>();
  for (const part of split.parts) {
    for (const n of part.names) if (typeof n === "string") owner.set(n, part.path);
  }
  for (const [name, path] of Object.entries(split.reexports)) owner.set(name, path);
  const rest = split.parts.find((p) => p.rest)?.path;
  return (name) => owner.get(name) ?? rest;
}

function planSplit(split: Split, source: string): PlannedSplit {
  const all = chunks(source);
  const imports = all.filter((c) => c.name === "import");
  const body = all.filter((c) => c.name !== "import" && c.name !== "doc");
  const claimed = new Map<Chunk, number>();
  for (const c of body) {
    if (split.copy.includes(c.name) || split.drop.includes(c.name)) continue;
    let i = split.parts.findIndex((p) =>
      p.names.some((n) => typeof n === "string" ? n === c.name : n.test(c.name))
    );
    if (i < 0) i = split.parts.findIndex((p) => p.rest);
    if (i < 0) {
      fail(
        `${split.from} has a top-level statement "${c.name}" that scripts/layout.ts does not ` +
          `assign: add it to a part (or to copy/drop) in the Split for ${split.from}, then re-run.`,
      );
    }
    claimed.set(c, i);
  }
  for (const name of split.parts.flatMap((p) => p.names).filter((n) => typeof n === "string")) {
    if (!body.some((c) => c.name === name)) {
      fail(`${split.from} no longer declares "${name}"; update its Split in scripts/layout.ts.`);
    }
  }
  const declared = new Map<string, number>();
  /** Declared names that are only types, imported with `type`. */
  const typeNames = new Set(
    body.filter((c) => /^(?:export\s+)?(?:interface|type)\s/.test(c.text.replace(COMMENTS, "")))
      .map((c) => c.name),
  );
  for (const [c, i] of claimed) {
    if (DECL.test(c.text.replace(COMMENTS, ""))) declared.set(c.name, i);
  }

  const files = new Map<string, string>();
  const exportsNeeded = new Set<string>();
  const texts: string[][] = split.parts.map(() => []);
  const partImports: Map<string, Binding[]>[] = split.parts.map(() => new Map());
  split.parts.forEach((part, i) => {
    const own = body.filter((c) => claimed.get(c) === i);
    // Copied helpers, transitively.
    const copies = new Set<Chunk>();
    let grew = true;
    while (grew) {
      grew = false;
      const text = [...own, ...copies].map((c) => c.text).join("\n");
      for (const c of body) {
        if (split.copy.includes(c.name) && !copies.has(c) && uses(text, c.name)) {
          copies.add(c);
          grew = true;
        }
      }
    }
    const kept = body.filter((c) => claimed.get(c) === i || copies.has(c));
    const edited = kept.map((c) =>
      retargetBody(
        (part.edits ?? []).reduce((t, [from, to]) => t.replace(from, to), c.text),
        split.from,
        part.path,
      )
    );
    const text = edited.join("\n");
    // Names declared by another part.
    for (const [name, j] of declared) {
      if (j !== i && uses(text, name)) {
        exportsNeeded.add(name);
        const path = split.parts[j]!.path;
        const list = partImports[i]!.get(path) ?? [];
        list.push({
          imported: name,
          local: name,
          text: typeNames.has(name) ? `type ${name}` : name,
        });
        partImports[i]!.set(path, list);
      }
    }
    // The original imports this part uses.
    const head: string[] = [];
    for (const imp of imports) {
      const m = [...imp.text.matchAll(NAMED_IMPORT)][0];
      if (!m) {
        const spec = imp.text.match(/from\s*"([^"]+)"/)?.[1];
        const local = imp.text.match(/^import\s+(?:type\s+)?([\w$]+)\s+from/)?.[1] ??
          imp.text.match(/\*\s+as\s+([\w$]+)/)?.[1];
        if (!spec || !local) fail(`${split.from}: cannot read the import ${imp.text}`);
        if (uses(text, local)) head.push(retarget(imp.text, split.from, part.path));
        continue;
      }
      const used = bindings(m[2]!, !!m[1]).filter((b) => uses(text, b.local));
      if (used.length === 0) continue;
      const target = m[3]!.startsWith(".") ? resolveFrom(dirname(split.from), m[3]!) : m[3]!;
      const spec = m[3]!.startsWith(".") ? specifier(part.path, target) : m[3]!;
      head.push(`import { ${used.map((b) => b.text).join(", ")} } from "${spec}";`);
    }
    for (const [path, list] of partImports[i]!) {
      head.push(
        `import { ${list.map((b) => b.text).join(", ")} } from "${specifier(part.path, path)}";`,
      );
    }
    const doc = part.doc ?? all.find((c) => c.name === "doc")?.text ?? "";
    texts[i] = [doc + head.join("\n") + "\n", ...edited];
  });
  split.parts.forEach((part, i) => {
    const out = texts[i]!.map((t, k) =>
      k === 0 ? t : t.replace(
        /^((?:\/\/[^\n]*\n|\/\*[\s\S]*?\*\/\n)*)((?:abstract\s+)?(?:async\s+)?(?:function|class|const|let|interface|type)\s+([\w$]+))/,
        (all, comments, decl, name) =>
          exportsNeeded.has(name) && declared.get(name) === i ? `${comments}export ${decl}` : all,
      )
    );
    files.set(part.path, out.join("\n") + (out.at(-1)!.endsWith("\n") ? "" : "\n"));
  });
  for (const name of exportsNeeded) {
    const part = split.parts[declared.get(name)!]!;
    if (!part.names.includes(name)) part.names.push(name);
  }
  return { split, files, owner: ownerMap(split) };
}

/** Makes the relative paths in a moved statement (URLs, dynamic imports) relative to `to`. */
function retargetBody(text: string, from: string, to: string): string {
  const fix = (spec: string) => {
    const target = resolveFrom(dirname(from), spec).replace(/\/$/, "");
    return specifier(to, target) + (spec.endsWith("/") ? "/" : "");
  };
  return text
    .replace(
      URL_SPEC,
      (_all, lead: string, quote: string, spec: string) => `${lead}${quote}${fix(spec)}`,
    )
    .replace(
      IMPORT_SPEC,
      (all, lead: string, quote: string, spec: string) =>
        lead.includes("(") ? `${lead}${quote}${fix(spec)}${quote}` : all,
    );
}

function retarget(statement: string, from: string, to: string): string {
  return statement.replace(
    /from\s*"(\.[^"]+)"/,
    (_all, spec: string) => `from "${specifier(to, resolveFrom(dirname(from), spec))}"`,
  );
}

// ---------------------------------------------------------------------------
// Rewriting specifiers.

/** `from "x"`, `import "x"`, `import("x")`, `export … from "x"`. */
const IMPORT_SPEC = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"'`]*)\2/g;
/** `new URL("x", import.meta.url)` and its template-literal form, up to the first `${`. */
const URL_SPEC = /(new URL\(\s*)(["'`])(\.{1,2}\/[^"'`$]*)/g;

interface Context {
  /** Directory the file's specifiers are relative to now. */
  resolveDir: string;
  /** Where the file will live. */
  finalPath: string;
}

function finalOf(path: string): string {
  return MOVES[path] ?? path;
}

function rewrite(
  text: string,
  ctx: Context,
  splitOwners: Map<string, Owner>,
): string {
  // Named imports of a split file: deal the names out to the parts.
  text = text.replace(
    NAMED_IMPORT,
    (all, typeOnly: string | undefined, list: string, spec: string) => {
      if (!spec.startsWith(".")) return all;
      const target = resolveFrom(ctx.resolveDir, spec);
      const owner = splitOwners.get(target);
      if (!owner) return all;
      const groups = new Map<string, string[]>();
      for (const b of bindings(list, !!typeOnly)) {
        const path = owner(b.imported) ??
          fail(
            `${ctx.finalPath} imports "${b.imported}" from ${target}, which the split does not place`,
          );
        const dest = throughMod(ctx.finalPath, finalOf(path));
        groups.set(dest, [...(groups.get(dest) ?? []), b.text]);
      }
      // Relative to the file's present directory: the pass below maps it to its final one.
      const here = join(ctx.resolveDir, "_");
      return [...groups].sort(([a], [b]) => a < b ? -1 : 1).map(([dest, names]) =>
        `import { ${names.join(", ")} } from "${specifier(here, dest)}";`
      ).join("\n");
    },
  );
  text = text.replace(IMPORT_SPEC, (all, lead: string, quote: string, spec: string) => {
    const target = resolveFrom(ctx.resolveDir, spec);
    if (splitOwners.has(target)) {
      fail(`${ctx.finalPath}: only named imports of ${target} can be split: ${all}`);
    }
    // A dynamic import defers loading a module (and its dependencies, such as the MongoDB
    // driver) until it is needed; through mod.ts it would load the whole area.
    const dynamic = lead.startsWith("import") && lead.includes("(");
    const final = finalOf(target);
    const dest = dynamic ? final : throughMod(ctx.finalPath, final);
    return `${lead}${quote}${specifier(ctx.finalPath, dest)}${quote}`;
  });
  text = text.replace(URL_SPEC, (_all, lead: string, quote: string, spec: string) => {
    const target = resolveFrom(ctx.resolveDir, spec).replace(/\/$/, "");
    const rel = specifier(ctx.finalPath, finalOf(target)) + (spec.endsWith("/") ? "/" : "");
    return `${lead}${quote}${rel}`;
  });
  return text;
}

/** `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}

/** Joins the named imports of one module (of one kind, type-only or not) into the first. */
function mergeImports(text: string): string {
  const statement = /^import (type )?\{([^}]*)\} from "([^"]+)";\n/gm;
  const groups = new Map<string, RegExpMatchArray[]>();
  for (const m of text.matchAll(statement)) {
    const key = `${m[1] ?? ""}${m[3]}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const edits: { at: number; length: number; text: string }[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const names = new Set(group.flatMap((m) => bindings(m[2]!, false).map((b) => b.text)));
    const [first, ...rest] = group;
    edits.push({
      at: first!.index!,
      length: first![0].length,
      text: `import ${first![1] ?? ""}{ ${[...names].join(", ")} } from "${first![3]}";\n`,
    });
    for (const m of rest) edits.push({ at: m.index!, length: m[0].length, text: "" });
  }
  for (const e of edits.sort((a, b) => b.at - a.at)) {
    text = text.slice(0, e.at) + e.text + text.slice(e.at + e.length);
  }
  return text;
}

/** Rewrites `lib/old.ts` paths in prose (Markdown, comments) to `lib/new.ts`. */
function rewriteProse(text: string): string {
  for (const [from, to] of Object.entries(MOVES)) {
    text = text.replace(new RegExp(`(?<![\\w./-])${from.replace(/\./g, "\\.")}(?![\\w])`, "g"), to);
  }
  return text;
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const status = await git("status", "--porcelain");
  if (status.trim() !== "" && !DRY_RUN) {
    console.warn("layout: the work tree has uncommitted changes; they are rewritten too.");
  }
  const listed = (await git("ls-files", "--cached", "--others", "--exclude-standard"))
    .split("\n").filter((p) => p !== "" && exists(p));
  const tsFiles = listed.filter((p) =>
    p.endsWith(".ts") && !/^(dist|node_modules|\.ssp-data)\//.test(p) && p !== SELF
  ).sort();
  const mdFiles = listed.filter((p) => p.endsWith(".md")).sort();

  // Splits.
  const splitOwners = new Map<string, Owner>();
  const planned: PlannedSplit[] = [];
  for (const split of SPLITS) {
    if (exists(split.from)) {
      for (const part of split.parts) {
        if (exists(part.path)) {
          fail(
            `both ${split.from} and ${part.path} exist: merge the changes to ${split.from} ` +
              `into the split files by hand (or delete ${part.path}) and re-run.`,
          );
        }
      }
      planned.push(planSplit(split, Deno.readTextFileSync(join(ROOT, split.from))));
    }
    splitOwners.set(
      split.from,
      planned.at(-1)?.split === split ? planned.at(-1)!.owner : ownerMap(split),
    );
  }

  // New contents, keyed by final path.
  const contents = new Map<string, string>();
  const origins = new Map<string, string>();
  for (const path of tsFiles) {
    if (SPLITS.some((s) => s.from === path)) continue;
    const text = Deno.readTextFileSync(join(ROOT, path));
    const finalPath = finalOf(path);
    if (finalPath !== path && exists(finalPath)) {
      fail(`both ${path} and ${finalPath} exist: merge them by hand and re-run.`);
    }
    let out = rewriteProse(
      rewrite(
        inlineReadDhParamsFile(path, text),
        { resolveDir: dirname(path), finalPath },
        splitOwners,
      ),
    );
    if (out !== text) out = mergeImports(out);
    contents.set(finalPath, out);
    origins.set(finalPath, path);
  }
  for (const p of planned) {
    for (const [path, text] of p.files) {
      contents.set(
        path,
        mergeImports(rewriteProse(
          rewrite(inlineReadDhParamsFile(path, text), {
            resolveDir: dirname(path),
            finalPath: path,
          }, splitOwners),
        )),
      );
    }
  }

  // mod.ts for each area: created if missing; a generated one gains new public files.
  const finalFiles = [...contents.keys()];
  for (const [area, doc] of Object.entries(AREAS)) {
    const dir = `lib/${area}`;
    const publicFiles = finalFiles.filter((p) =>
      dirname(p) === dir && !p.endsWith("_test.ts") && !p.endsWith("/mod.ts") &&
      !p.split("/").pop()!.startsWith("_")
    ).sort();
    if (publicFiles.length === 0) continue;
    const modPath = `${dir}/mod.ts`;
    let mod = contents.get(modPath);
    if (mod === undefined) {
      mod = `/**\n${wrap(doc, 96).map((l) => ` * ${l}\n`).join("")} *\n * @module\n */\n` +
        `${GENERATED_MARK}\n`;
    }
    for (const line of ENSURE_LINES[modPath] ?? []) {
      if (!mod.includes(line)) mod = mod.trimEnd() + "\n" + line + "\n";
    }
    const missing = publicFiles.filter((p) => !mod!.includes(`"./${p.slice(dir.length + 1)}"`));
    if (missing.length === 0) {
      contents.set(modPath, mod);
      continue;
    }
    if (mod.includes(GENERATED_MARK)) {
      mod = mod.trimEnd() + "\n" +
        missing.map((p) => `export * from "./${p.slice(dir.length + 1)}";`).join("\n") + "\n";
    } else {
      console.warn(
        `layout: ${modPath} does not re-export ${missing.join(", ")} (written by hand; check)`,
      );
    }
    contents.set(modPath, mod);
  }

  for (const path of finalFiles) {
    if (dirname(path) === "lib" && !BASE_FILES.includes(path.replace(/_test\.ts$/, ".ts"))) {
      console.warn(`layout: ${path} is loose in lib/: move it into an area (add it to MOVES)`);
    }
  }

  // Prose.
  for (const path of mdFiles) {
    const text = Deno.readTextFileSync(join(ROOT, path));
    contents.set(path, rewriteProse(text));
    origins.set(path, path);
    for (const s of SPLITS) {
      if (new RegExp(`(?<![\\w./-])${s.from.replace(/\./g, "\\.")}\\b`).test(text)) {
        console.warn(`layout: ${path} names ${s.from}, which was split: edit by hand`);
      }
    }
  }

  // Apply.
  let changed = 0;
  for (const [finalPath, text] of [...contents].sort(([a], [b]) => a < b ? -1 : 1)) {
    const origin = origins.get(finalPath);
    const before = exists(origin ?? finalPath)
      ? Deno.readTextFileSync(join(ROOT, origin ?? finalPath))
      : undefined;
    if (origin === finalPath && before === text) continue;
    changed++;
    console.log(
      origin && origin !== finalPath ? `move ${origin} → ${finalPath}` : `write ${finalPath}`,
    );
    if (DRY_RUN) continue;
    Deno.mkdirSync(join(ROOT, dirname(finalPath)), { recursive: true });
    if (origin && origin !== finalPath) await git("mv", origin, finalPath);
    Deno.writeTextFileSync(join(ROOT, finalPath), text);
  }
  for (const p of planned) {
    // The largest part keeps the history of the split file.
    const [heir] = [...p.files].sort(([, a], [, b]) => b.length - a.length)[0]!;
    console.log(`split ${p.split.from} → ${[...p.files.keys()].join(", ")}`);
    if (DRY_RUN) continue;
    const text = Deno.readTextFileSync(join(ROOT, heir));
    Deno.removeSync(join(ROOT, heir));
    await git("mv", p.split.from, heir);
    Deno.writeTextFileSync(join(ROOT, heir), text);
  }
  if (!DRY_RUN) await git("add", "--", "lib");
  console.log(`layout: ${changed} files changed${DRY_RUN ? " (dry run)" : ""}; now run deno fmt.`);
}

if (import.meta.main) await main();
