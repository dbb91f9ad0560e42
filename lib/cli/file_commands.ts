/**
 * The file commands: `send-file`, `files` and `get-file`, with progress on
 * stderr (a bar on a terminal, plain lines otherwise) or JSON events with
 * `--json`.
 *
 * @module
 */
import { normalizePhone } from "../phone.ts";
import type { Output } from "../ui/mod.ts";
import { formatBytes, type Progress } from "../ui/mod.ts";
import { type AccountOptions, withSession } from "./account_options.ts";
import { fileJson, fileLine } from "./format.ts";
import { deleteFile, getFile, listFiles, sendFile, shareFile } from "../client/mod.ts";

/** `send-file --to NUMBER PATH`. */
export async function sendFileCommand(
  options: AccountOptions & { to: string[] },
  path: string,
  out: Output,
): Promise<void> {
  await withSession(options, out, async (session) => {
    const to = options.to.map((n) => normalizePhone(n, options.region));
    const size = (await Deno.stat(path)).size;
    const progress = out.progress(path.split("/").pop() ?? path, size);
    try {
      const sent = await sendFile(session, path, to, (done) => progress.update(done));
      progress.finish();
      out.result(
        {
          type: "sent",
          fileId: sent.fileId,
          name: sent.name,
          size: sent.size,
          to,
          resumedAt: sent.resumedAt,
        },
        `sent ${sent.name} (${formatBytes(sent.size)}) to ${
          to.join(", ")
        }; file id ${sent.fileId}` +
          (sent.resumedAt > 0 ? ` (resumed at ${formatBytes(sent.resumedAt)})` : ""),
      );
    } catch (error) {
      progress.fail(error as Error);
      throw error;
    }
  });
}

/** `share-file ID --to NUMBER`: more recipients for an uploaded file. */
export async function shareFileCommand(
  options: AccountOptions & { to: string[] },
  id: string,
  out: Output,
): Promise<void> {
  await withSession(options, out, async (session) => {
    const to = options.to.map((n) => normalizePhone(n, options.region));
    const entry = await shareFile(session, id, to);
    out.result(
      { type: "shared", fileId: entry.fileId, name: entry.name, to },
      `shared ${entry.name} with ${to.join(", ")} (no second upload)`,
    );
  });
}

/** `delete-file ID`: removes a file I sent from the server, freeing its quota. */
export async function deleteFileCommand(
  options: AccountOptions,
  id: string,
  out: Output,
): Promise<void> {
  await withSession(options, out, async (session) => {
    const entry = await deleteFile(session, id);
    out.result(
      { type: "deleted", fileId: entry.fileId, name: entry.name, size: entry.size },
      `deleted ${entry.name} (file ${entry.fileId.slice(0, 8)}) from the server`,
    );
  });
}

/** `files`: files sent and received. */
export async function filesCommand(options: AccountOptions, out: Output): Promise<void> {
  await withSession(options, out, async (session) => {
    const files = await listFiles(session);
    for (const file of files) {
      out.result(fileJson(file, session.account.phone), fileLine(file, session.account.phone));
    }
    if (files.length === 0) out.note("no files yet");
  });
}

/** `get-file ID [--out DIR]`. */
export async function getFileCommand(
  options: AccountOptions & { out: string },
  id: string,
  out: Output,
): Promise<void> {
  await withSession(options, out, async (session) => {
    let progress: Progress | undefined;
    try {
      const got = await getFile(session, id, options.out, (done, total) => {
        progress ??= out.progress(id, total);
        progress.update(done);
      });
      progress?.finish();
      out.result(
        {
          type: "received",
          fileId: got.entry.fileId,
          path: got.path,
          size: got.entry.size,
          from: got.entry.from,
          verified: got.entry.verified,
        },
        `saved ${got.path} (${formatBytes(got.entry.size)}) from ${got.entry.from}` +
          (got.entry.verified ? "" : "  ⚠ UNVERIFIED: sender's key changed"),
      );
    } catch (error) {
      progress?.fail(error as Error);
      throw error;
    }
  });
}
