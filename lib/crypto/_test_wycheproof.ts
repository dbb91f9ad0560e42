/**
 * Test helper: the vendored Wycheproof AEAD vectors (testdata/wycheproof/,
 * schema `aead_test_schema_v1`).
 *
 * @module
 */

/** One AEAD test case, hex-encoded as in the file. */
export interface AeadCase {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: "valid" | "invalid" | "acceptable";
}

/** A group of cases sharing key, nonce and tag sizes (in bits). */
export interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadCase[];
}

/** Reads the groups of `testdata/wycheproof/<file>`. */
export async function aeadGroups(file: string): Promise<AeadGroup[]> {
  const url = new URL(`../../testdata/wycheproof/${file}`, import.meta.url);
  return JSON.parse(await Deno.readTextFile(url)).testGroups;
}
