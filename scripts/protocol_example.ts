/**
 * Prints the worked example of docs/protocol.md, Appendix D: one complete ssp/1
 * handshake over X25519 between the real `ClientHandshake` and
 * `ServerHandshake` (in memory, no sockets, randomness from a seeded
 * generator), then the first records each way, with every frame annotated
 * byte by byte. Every value is recomputed independently from the formulas of
 * docs/protocol.md first (lib/testing/worked_example.ts), and the script fails
 * if anything differs. lib/handshake/appendix_d_test.ts checks that the
 * document shows exactly these bytes.
 *
 *     deno run --allow-read scripts/protocol_example.ts
 *
 * @module
 */
import { workedExample } from "../lib/testing/mod.ts";

const example = await workedExample();
const block = (text: string) => "```text\n" + text + "```\n";

console.log("### D.1 Inputs\n");
console.log(block(example.inputs));
console.log("### D.2 The five handshake frames\n");
for (const frame of example.frames) console.log(`${frame.title}\n\n${block(frame.text)}`);
console.log("### D.3 Derived values\n");
console.log(block(example.derived));
console.log("### D.4 The first records\n");
console.log(block(example.records));
console.log(
  `after a rekey (limit 1 record), the 2nd ping is sealed under the epoch-1 key, nonce counter 0: ` +
    `ciphertext ${example.rekeyed.ciphertext}, tag ${example.rekeyed.tag}\n`,
);
console.log("### D.5 Finite-field server_hello layouts\n");
console.log(block(example.finiteField));
console.error("every value above was recomputed independently and matched");
