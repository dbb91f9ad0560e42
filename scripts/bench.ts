/**
 * `deno task bench [NAME...]`: runs the benchmarks and prints Markdown
 * tables. Names: handshake, cipher, primes, store, files, chunks, mongo, messages, mqtt,
 * guessing, abuse, races, scale, idle, bus, writers (default: all). Figures belong in
 * docs/ with the command that produced them.
 *
 * @module
 */

const BENCHMARKS: Record<string, () => Promise<{ run(): Promise<string> }>> = {
  handshake: () => import("./bench/handshake.ts"),
  cipher: () => import("./bench/cipher.ts"),
  primes: () => import("./bench/primes.ts"),
  store: () => import("./bench/store.ts"),
  files: () => import("./bench/files.ts"),
  chunks: () => import("./bench/chunks.ts"),
  mongo: () => import("./bench/mongo.ts"),
  messages: () => import("./bench/messages.ts"),
  mqtt: () => import("./bench/mqtt.ts"),
  guessing: () => import("./bench/guessing.ts"),
  abuse: () => import("./bench/abuse.ts"),
  races: () => import("./bench/file_races.ts"),
  scale: () => import("./bench/scale.ts"),
  idle: () => import("./bench/idle.ts"),
  bus: () => import("./bench/bus.ts"),
  writers: () => import("./bench/writers.ts"),
};

const wanted = Deno.args.length > 0 ? Deno.args : Object.keys(BENCHMARKS);
for (const name of wanted) {
  if (!(name in BENCHMARKS)) {
    console.error(
      `error: unknown benchmark "${name}"; choose from ${Object.keys(BENCHMARKS).join(", ")}`,
    );
    Deno.exit(2);
  }
}
console.log(
  `# ssp benchmarks\n\nDeno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${
    new Date().toISOString()
  }\n`,
);
for (const name of wanted) {
  const module = await BENCHMARKS[name]!();
  console.log(await module.run());
}
