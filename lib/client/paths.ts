/**
 * Where the client keeps its files.
 *
 * @module
 */
import { join } from "node:path";

/** The client's data dir: `$XDG_DATA_HOME/ssp`, else `~/.local/share/ssp`. */
export function defaultClientDataDir(): string {
  const xdg = Deno.env.get("XDG_DATA_HOME");
  if (xdg) return join(xdg, "ssp");
  const home = Deno.env.get("HOME") ?? ".";
  return join(home, ".local", "share", "ssp");
}
