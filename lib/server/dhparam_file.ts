/**
 * DH parameters files (PEM, the format of `openssl dhparam`): the file I/O around the
 * pure codec in `../crypto/dhparam.ts`.
 *
 * @module
 */
import { decodeDhParamsPem, type DhParams, encodeDhParamsPem } from "../crypto/mod.ts";

/** Reads a PEM DH parameters file (needs `--allow-read`). */
export async function readDhParamsFile(path: string | URL): Promise<DhParams> {
  return decodeDhParamsPem(await Deno.readTextFile(path));
}

/** Writes p and g to a PEM DH parameters file (needs `--allow-write`). */
export async function writeDhParamsFile(path: string | URL, params: DhParams): Promise<void> {
  await Deno.writeTextFile(path, encodeDhParamsPem(params.p, params.g));
}
