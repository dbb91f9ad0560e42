/**
 * The recipient of the benchmark's live transfer, as its own process: logs in
 * first (as an interactive client would already be), prints `ready`, and on
 * the first file announcement fetches that file at once, while the sender is
 * still uploading. Prints JSON lines: `ready`, `announced`, `verified` (after
 * getFile() has checked every chunk and renamed the file into place). Its
 * peak RSS is read by the parent from /proc.
 *
 * Usage: `SSP_PASSWORD=… deno run --allow-net --allow-read --allow-write --allow-env
 * scripts/bench/_transfer_child.ts SERVER DATA_DIR PHONE OUT_DIR`
 *
 * @module
 */
import { getFile, openSession } from "../../lib/client/mod.ts";

const [server, dataDir, phone, outDir] = Deno.args;
const password = Deno.env.get("SSP_PASSWORD");
if (!server || !dataDir || !phone || !outDir || password === undefined) {
  console.error("usage: SSP_PASSWORD=… _transfer_child.ts SERVER DATA_DIR PHONE OUT_DIR");
  Deno.exit(2);
}

function emit(event: Record<string, unknown>): void {
  console.log(JSON.stringify(event));
}

const session = await openSession({ server, dataDir, phone, password });
const announced = Promise.withResolvers<string>();
session.messenger.onIncoming = (incoming) => {
  if ("message" in incoming && incoming.message.content.kind === "file") {
    announced.resolve(incoming.message.content.fileId);
  }
};
emit({ event: "ready" });
try {
  const fileId = await announced.promise;
  emit({ event: "announced", fileId });
  const got = await getFile(session, fileId, outDir);
  emit({ event: "verified", path: got.path, size: got.entry.size });
} finally {
  session.close();
}
