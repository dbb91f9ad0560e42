/**
 * The key-agreement groups a server offers, and `ssp-server dhparam`, which
 * makes a server-specific group (the original design's "server-made primes").
 *
 * @module
 */
import { join } from "node:path";
import {
  type DhGroup,
  generateSafePrime,
  namedGroup,
  validateGroupParameters,
} from "../crypto/mod.ts";
import { readDhParamsFile, writeDhParamsFile } from "./dhparam_file.ts";
import { GROUP_NAMES } from "../handshake/mod.ts";
import { SspError } from "../errors.ts";

/** Name of the custom group file inside the server's data dir (PEM, as `openssl dhparam`). */
export const DHPARAM_FILE = "dhparam.pem";

/** Order used when `--groups` is not given (a custom group, if any, goes first). */
const DEFAULT_ORDER = ["x25519", "ffdhe2048", "ffdhe3072", "ffdhe4096"] as const;

/**
 * The groups to offer, best first. `list` is the `--groups` value (comma
 * separated); without it: the custom group if `dhparam` made one, then the
 * defaults. The custom group is validated like a client would (it is cheap
 * enough at start-up and catches a corrupted file early).
 */
export async function loadServerGroups(dataDir: string, list?: string): Promise<DhGroup[]> {
  const path = join(dataDir, DHPARAM_FILE);
  let custom: DhGroup | undefined;
  try {
    const { p, g } = await readDhParamsFile(path);
    custom = validateGroupParameters(p, g);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const names = list === undefined
    ? [...(custom ? ["custom"] : []), ...DEFAULT_ORDER]
    : list.split(",").map((n) => n.trim()).filter((n) => n !== "");
  if (names.length === 0) throw new TypeError("--groups must name at least one group");
  return names.map((name) => {
    if (!(GROUP_NAMES as readonly string[]).includes(name)) {
      throw new TypeError(
        `unknown group "${name}" in --groups; choose from ${GROUP_NAMES.join(", ")}`,
      );
    }
    if (name !== "custom") return namedGroup(name as (typeof DEFAULT_ORDER)[number]);
    if (!custom) {
      throw new TypeError(
        `--groups names "custom" but ${path} does not exist; run \`ssp-server dhparam\``,
      );
    }
    return custom;
  });
}

/** Generates a safe-prime group of `bits` bits and writes it to the data dir. */
export async function generateDhParamFile(
  dataDir: string,
  bits: number,
  note: (text: string) => void,
): Promise<{ path: string; seconds: number }> {
  const start = performance.now();
  // Make sure the file can be written before spending minutes on the prime.
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SspError("data_dir_unusable", `cannot create the data dir ${dataDir}: ${reason}`, {
      hint: "pass a directory this user can write with --data DIR (or SSP_DATA)",
      cause,
    });
  }
  note(`generating a ${bits}-bit safe prime (p = 2q+1, both prime); this can take minutes…`);
  let lastNote = performance.now();
  const p = await generateSafePrime(bits, {
    onProgress: (tested) => {
      if (performance.now() - lastNote < 5000) return;
      lastNote = performance.now();
      note(`  ${tested} candidates tested, ${((lastNote - start) / 1000).toFixed(0)} s`);
    },
  });
  // 2 lies in the order-q subgroup exactly when it is a square mod p, i.e. p ≡ ±1 (mod 8);
  // a safe prime is ≡ 7 or 3 (mod 8). 4 = 2² is always a square and never 1, so it works for both.
  const g = p % 8n === 7n ? 2n : 4n;
  validateGroupParameters(p, g); // proves g generates the order-q subgroup
  const path = join(dataDir, DHPARAM_FILE);
  await writeDhParamsFile(path, { p, g });
  return { path, seconds: (performance.now() - start) / 1000 };
}
