/**
 * The anchors the file benchmark compares ssp with, run on the same file in
 * the same run: `scp` through a private sshd (aes128-gcm) and a raw TLS 1.3
 * upload with `openssl s_client` → `s_server`. Each sets itself up in a temp
 * dir on a free 127.0.0.1 port and reports "unavailable" rather than failing
 * when its tools are missing.
 *
 * @module
 */
import { join } from "node:path";
import { available, freePort, Proc, runQuiet } from "./_procs.ts";

const SSHD = "/usr/sbin/sshd";

/** One anchor transfer: seconds and, where measured, the fixed set-up cost inside them. */
export interface AnchorResult {
  seconds: number;
  /** Connection set-up (an empty-file transfer), already included in `seconds`. */
  setupSeconds?: number;
  /**
   * `seconds` plus an fdatasync of the copy afterwards (`sync -d`): the time to a durable copy,
   * which is what ssp's legs wait for. scp itself leaves the data in the page cache.
   */
  durableSeconds?: number;
  /** Peak RSS of the receiving side's process, MiB. */
  serverPeakMiB?: number;
}

/** A private sshd accepting one key for root. */
export class ScpAnchor {
  readonly #dir: string;
  readonly #port: number;
  readonly #sshd: Proc;

  private constructor(dir: string, port: number, sshd: Proc) {
    this.#dir = dir;
    this.#port = port;
    this.#sshd = sshd;
  }

  /** Starts sshd, or returns why it cannot. */
  static async start(dir: string): Promise<ScpAnchor | string> {
    try {
      await Deno.stat(SSHD);
    } catch {
      return "sshd not installed (apt-get install openssh-server)";
    }
    if (!await available("scp")) return "scp not installed (apt-get install openssh-client)";
    await Deno.mkdir(join(dir, "dst"), { recursive: true });
    await Deno.mkdir("/run/sshd", { recursive: true }).catch(() => {});
    await runQuiet("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host")]);
    await runQuiet("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
    await Deno.copyFile(join(dir, "id.pub"), join(dir, "authorized_keys"));
    const port = freePort();
    await Deno.writeTextFile(
      join(dir, "sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${join(dir, "host")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PermitRootLogin yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        `PidFile ${join(dir, "sshd.pid")}`,
        "Subsystem sftp internal-sftp",
        "",
      ].join("\n"),
    );
    const sshd = new Proc(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")]);
    const anchor = new ScpAnchor(dir, port, sshd);
    // Wait until it accepts connections (an empty copy doubles as the check).
    const empty = join(dir, "empty");
    await Deno.writeFile(empty, new Uint8Array(0));
    for (let attempt = 0;; attempt++) {
      try {
        await anchor.#scp(empty);
        return anchor;
      } catch (error) {
        if (attempt > 50) {
          await sshd.stop();
          return `sshd did not start: ${(error as Error).message}`;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Copies `path` into the temp dir; the time includes connection set-up, reported apart. */
  async upload(path: string): Promise<AnchorResult> {
    const setupStart = performance.now();
    await this.#scp(join(this.#dir, "empty"));
    const setupSeconds = (performance.now() - setupStart) / 1000;
    const copy = join(this.#dir, "dst", path.split("/").pop()!);
    const start = performance.now();
    await this.#scp(path);
    const seconds = (performance.now() - start) / 1000;
    await runQuiet("sync", ["-d", copy]);
    const durableSeconds = (performance.now() - start) / 1000;
    await Deno.remove(copy).catch(() => {});
    return { seconds, setupSeconds, durableSeconds };
  }

  /** Stops sshd. */
  async stop(): Promise<void> {
    await this.#sshd.stop();
  }

  async #scp(path: string): Promise<void> {
    await runQuiet("scp", [
      "-q",
      "-c",
      "aes128-gcm@openssh.com",
      "-P",
      String(this.#port),
      "-i",
      join(this.#dir, "id"),
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      path,
      `root@127.0.0.1:${join(this.#dir, "dst")}/`,
    ]);
  }
}

/** Raw TLS 1.3 upload: `s_client < file` to `s_server > /dev/null`, default suite (AES-256-GCM). */
export class TlsAnchor {
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Makes a self-signed certificate, or returns why it cannot. */
  static async start(dir: string): Promise<TlsAnchor | string> {
    if (!await available("openssl")) return "openssl not installed";
    await Deno.mkdir(dir, { recursive: true });
    await selfSignedCert(dir, ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
    return new TlsAnchor(dir);
  }

  /**
   * Sends `path` once. The time runs from starting s_client to its exit, which
   * follows its last write and close_notify; at most a socket buffer (a few MiB)
   * may still be in flight to the server then.
   */
  async upload(path: string): Promise<AnchorResult> {
    const port = freePort();
    const server = new Proc("openssl", [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      join(this.#dir, "cert.pem"),
      "-key",
      join(this.#dir, "key.pem"),
      "-tls1_3",
      "-naccept",
      "1",
      "-quiet",
    ], { stdin: "piped", stdout: "null" }); // s_server must not see EOF on stdin
    try {
      await waitForPort(port);
      const start = performance.now();
      // -nocommands: otherwise lines of the file starting with Q, R or K are commands.
      await runQuiet("sh", [
        "-c",
        `exec openssl s_client -connect 127.0.0.1:${port} -tls1_3 -quiet -no_ign_eof -nocommands < '${path}' > /dev/null 2>&1`,
      ]);
      const seconds = (performance.now() - start) / 1000;
      return { seconds, serverPeakMiB: server.peakMiB };
    } finally {
      await server.stop();
    }
  }
}

/**
 * Writes a throw-away self-signed certificate for `localhost` to `dir`/cert.pem and its key to
 * `dir`/key.pem; `keyArgs` chooses the key (e.g. `["-newkey", "ed25519"]`).
 */
export async function selfSignedCert(dir: string, keyArgs: string[]): Promise<void> {
  await runQuiet("openssl", [
    "req",
    "-x509",
    ...keyArgs,
    "-nodes",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
    "-subj",
    "/CN=localhost",
    "-days",
    "1",
  ]);
}

/** Waits until something listens on `port`, without connecting (s_server accepts only one). */
export async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    // Deno guards /proc/net behind --allow-all, so ask ss(8).
    const listening = await runQuiet("ss", ["-Hltn", `sport = :${port}`]).catch(() => "");
    if (listening.trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on port ${port}`);
}
