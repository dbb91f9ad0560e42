/**
 * Primality testing and prime generation on `bigint`: trial division, Miller-Rabin with random
 * bases, and a sieved search for primes and safe primes (p = 2q + 1 with q prime).
 *
 * None of this is constant-time: JavaScript `bigint` arithmetic takes time that depends on the
 * values. That is harmless for testing public numbers (server parameters, candidate primes
 * that are thrown away), and is discussed in `dh.ts` for private exponents.
 *
 * @module
 */

/**
 * Miller-Rabin rounds used when none are given. Each round lets a composite through with
 * probability at most 1/4, even for adversarially chosen numbers, so 64 rounds bound the error
 * by 4^-64 = 2^-128.
 */
export const DEFAULT_ROUNDS = 64;

/** Primes below `limit`, by the sieve of Eratosthenes. */
function primesBelow(limit: number): number[] {
  const composite = new Uint8Array(limit);
  const primes: number[] = [];
  for (let i = 2; i < limit; i++) {
    if (composite[i]) continue;
    primes.push(i);
    for (let j = i * i; j < limit; j += i) composite[j] = 1;
  }
  return primes;
}

/** Trial division bound: every prime below it is tried before any Miller-Rabin round. */
const TRIAL_LIMIT = 2000;
const TRIAL_PRIMES: readonly bigint[] = primesBelow(TRIAL_LIMIT).map(BigInt);

/**
 * Generation sieves candidates with every odd prime below this bound. A larger bound removes
 * more candidates before the (far more expensive) modular exponentiations; past 2^16 the gain
 * is below a few percent while the per-window setup keeps growing.
 */
export const SIEVE_LIMIT = 1 << 16;
const SIEVE_PRIMES: readonly number[] = primesBelow(SIEVE_LIMIT).slice(1);

/** Number of candidates (q0, q0 + 2, …) examined per sieve window. */
const WINDOW = 1 << 14;

/** Bit length of a non-negative `bigint` (0 for 0). */
export function bitLength(n: bigint): number {
  if (n < 0n) throw new RangeError("bitLength() needs a non-negative number");
  if (n === 0n) return 0;
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + parseInt(hex[0]!, 16).toString(2).length;
}

/**
 * Fills `buffer` with random bytes and returns it, like `crypto.getRandomValues`
 * (at most 65 536 bytes a call). Functions that draw randomness take one so that
 * known-answer tests can pass a seeded generator; everything else uses
 * {@linkcode systemRandom}.
 */
export type RandomSource = (buffer: Uint8Array) => Uint8Array;

/** The system CSPRNG, `crypto.getRandomValues`. */
export const systemRandom: RandomSource = (buffer) => crypto.getRandomValues(buffer);

/** A uniformly random `bigint` in [0, 2^bits), from `random`. */
export function randomBits(bits: number, random: RandomSource = systemRandom): bigint {
  if (!Number.isInteger(bits) || bits < 0) throw new RangeError(`invalid bit count: ${bits}`);
  if (bits === 0) return 0n;
  const bytes = random(new Uint8Array(Math.ceil(bits / 8)));
  // Clear the excess high bits so every value below 2^bits is equally likely.
  bytes[0]! &= 0xff >> (bytes.length * 8 - bits);
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return BigInt("0x" + hex);
}

/**
 * A uniformly random `bigint` in [min, max] (both inclusive), by rejection sampling so that
 * there is no modulo bias.
 */
export function randomBigIntInRange(
  min: bigint,
  max: bigint,
  random: RandomSource = systemRandom,
): bigint {
  if (max < min) throw new RangeError("randomBigIntInRange() needs min <= max");
  const span = max - min + 1n;
  const bits = bitLength(span - 1n);
  for (;;) {
    const r = randomBits(bits, random);
    if (r < span) return min + r;
  }
}

/**
 * base^exponent mod modulus, by left-to-right exponentiation with a fixed 4-bit window (one
 * multiplication per hex digit of the exponent instead of one per set bit).
 */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus <= 0n) throw new RangeError("modPow() needs a positive modulus");
  if (exponent < 0n) throw new RangeError("modPow() needs a non-negative exponent");
  if (modulus === 1n) return 0n;
  const b = ((base % modulus) + modulus) % modulus;
  const table: bigint[] = [1n, b];
  for (let i = 2; i < 16; i++) table.push((table[i - 1]! * b) % modulus);
  let result = 1n;
  for (const digit of exponent.toString(16)) {
    for (let i = 0; i < 4; i++) result = (result * result) % modulus;
    const d = parseInt(digit, 16);
    if (d !== 0) result = (result * table[d]!) % modulus;
  }
  return result;
}

/** One Miller-Rabin round with base `a`; `d` odd and n − 1 = d·2^s. */
function millerRabinRound(n: bigint, d: bigint, s: number, a: bigint): boolean {
  let x = modPow(a, d, n);
  if (x === 1n || x === n - 1n) return true;
  for (let i = 1; i < s; i++) {
    x = (x * x) % n;
    if (x === n - 1n) return true;
    if (x === 1n) return false;
  }
  return false;
}

/**
 * Miller-Rabin with `rounds` bases drawn uniformly from [2, n − 2]. Random (not fixed) bases
 * matter: composites built to pass any fixed set of bases are known (Arnault 1996).
 * Needs n odd and n > 3.
 */
function millerRabin(n: bigint, rounds: number): boolean {
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  for (let i = 0; i < rounds; i++) {
    if (!millerRabinRound(n, d, s, randomBigIntInRange(2n, n - 2n))) return false;
  }
  return true;
}

/**
 * Whether `n` is probably prime: trial division by the primes below 2000, then `rounds`
 * Miller-Rabin rounds with random bases. A composite passes with probability at most
 * 4^-rounds (2^-128 for the default 64), whoever chose it. Negative numbers, 0 and 1 are not
 * prime. A `false` answer is always right.
 */
export function isProbablePrime(n: bigint, rounds: number = DEFAULT_ROUNDS): boolean {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`invalid rounds: ${rounds}`);
  if (n < 2n) return false;
  for (const p of TRIAL_PRIMES) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  // No factor below the limit and n < limit² leaves no room for two factors.
  if (n < BigInt(TRIAL_LIMIT) ** 2n) return true;
  return millerRabin(n, rounds);
}

/** How {@linkcode classifySafePrime} judged a candidate p. */
export type SafePrimeVerdict = "safe" | "composite" | "not_safe";

/**
 * Classifies `p` as a safe prime (`"safe"`), as composite (`"composite"`, always right), or as
 * not safe because (p − 1)/2 is composite (`"not_safe"`; p itself may or may not be prime).
 *
 * Only q = (p − 1)/2 gets the `rounds` Miller-Rabin rounds. Once q is prime, p needs just the
 * Fermat check 2^(p−1) ≡ 1 (mod p): by Pocklington's theorem (q | p − 1, q > √p − 1 and
 * gcd(2^((p−1)/q) − 1, p) = gcd(3, p) = 1) that proves p prime. So the error bound is that of
 * the test on q, 4^-rounds, at half the cost of testing both numbers.
 */
export function classifySafePrime(p: bigint, rounds: number = DEFAULT_ROUNDS): SafePrimeVerdict {
  if (p < 5n || (p & 1n) === 0n) return p === 2n || p === 3n ? "not_safe" : "composite";
  if (p < BigInt(TRIAL_LIMIT) ** 2n) {
    if (!isProbablePrime(p)) return "composite";
    return isProbablePrime((p - 1n) / 2n) ? "safe" : "not_safe";
  }
  for (const small of TRIAL_PRIMES) if (p % small === 0n) return "composite";
  // A failed Fermat test proves p composite, whatever q is.
  if (modPow(2n, p - 1n, p) !== 1n) return "composite";
  return isProbablePrime((p - 1n) / 2n, rounds) ? "safe" : "not_safe";
}

/** Whether `p` is a safe prime, i.e. p and (p − 1)/2 are both prime (error ≤ 4^-rounds). */
export function isSafePrime(p: bigint, rounds: number = DEFAULT_ROUNDS): boolean {
  return classifySafePrime(p, rounds) === "safe";
}

/** Options for {@linkcode generatePrime} and {@linkcode generateSafePrime}. */
export interface GenerateOptions {
  /** Miller-Rabin rounds for the final test; {@linkcode DEFAULT_ROUNDS} if absent. */
  rounds?: number;
  /** Called after every candidate that survives the sieve and is tested, with the count so far. */
  onProgress?: (tested: number) => void;
  /** Stops the search; the promise then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Time slice after which the search yields to the event loop (progress output, aborts). */
const YIELD_EVERY_MS = 50;

const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Incremental sieve search: from a random odd start with the top bit set, walk q0, q0 + 2, …
 * in windows, strike every candidate that a sieve prime divides (`safe`: also every candidate
 * whose 2q + 1 it divides), and hand the survivors to `accept`. Starting from one random
 * point and walking slightly favours primes after long gaps; that bias is standard (OpenSSL
 * does the same) and leaves far more entropy than any attack could use.
 */
async function search(
  bits: number,
  safe: boolean,
  accept: (candidate: bigint) => boolean,
  options: GenerateOptions,
): Promise<bigint> {
  const top = 1n << BigInt(bits - 1);
  let tested = 0;
  let sliceStart = performance.now();
  for (;;) {
    let start = randomBits(bits - 1) | top | 1n;
    // A sieve prime may only strike multiples larger than itself.
    const primes = SIEVE_PRIMES.filter((p) => BigInt(p) < top);
    const residues = primes.map((p) => Number(start % BigInt(p)));
    while (start + 2n * BigInt(WINDOW) < 2n * top) {
      const struck = new Uint8Array(WINDOW);
      for (let i = 0; i < primes.length; i++) {
        const p = primes[i]!;
        const r = residues[i]!;
        const inv2 = (p + 1) / 2;
        // start + 2k ≡ 0 (mod p)  ⇔  k ≡ −r / 2 (mod p)
        for (let k = ((p - r) * inv2) % p; k < WINDOW; k += p) struck[k] = 1;
        if (safe) {
          // 2(start + 2k) + 1 ≡ 0 (mod p)  ⇔  k ≡ −(2r + 1) / 4 (mod p)
          const inv4 = (inv2 * inv2) % p;
          const k0 = (((p - ((2 * r + 1) % p)) % p) * inv4) % p;
          for (let k = k0; k < WINDOW; k += p) struck[k] = 1;
        }
        residues[i] = (r + 2 * WINDOW) % p;
      }
      for (let k = 0; k < WINDOW; k++) {
        if (struck[k]) continue;
        const candidate = start + 2n * BigInt(k);
        const found = accept(candidate);
        options.onProgress?.(++tested);
        if (found) return candidate;
        if (performance.now() - sliceStart > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          options.signal?.throwIfAborted();
          sliceStart = performance.now();
        }
      }
      start += 2n * BigInt(WINDOW);
    }
  }
}

function checkBits(bits: number, min: number): void {
  if (!Number.isInteger(bits) || bits < min) {
    throw new RangeError(`prime size must be an integer of at least ${min} bits, got ${bits}`);
  }
}

/**
 * A random prime of exactly `bits` bits (top bit set), probably prime with error ≤ 4^-rounds.
 * Used by the analysis to compare with safe-prime generation; DH needs
 * {@linkcode generateSafePrime}.
 */
export async function generatePrime(bits: number, options: GenerateOptions = {}): Promise<bigint> {
  checkBits(bits, 20);
  options.signal?.throwIfAborted();
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  return await search(bits, false, (n) => millerRabin(n, 1) && millerRabin(n, rounds - 1), options);
}

/**
 * A random safe prime p = 2q + 1 of exactly `bits` bits, with q prime too; both hold with error
 * ≤ 4^-rounds. Candidates q of `bits − 1` bits are sieved so that neither q nor 2q + 1 has a
 * factor below 2^16; survivors face one Fermat test on p (cheap rejection), then the full
 * Miller-Rabin test on q, and p follows by Pocklington (see {@linkcode classifySafePrime}).
 *
 * Yields to the event loop every 50 ms so that `onProgress` output and `signal` work; at 2048
 * bits expect tens of seconds (see docs/analysis.md).
 */
export async function generateSafePrime(
  bits: number,
  options: GenerateOptions = {},
): Promise<bigint> {
  checkBits(bits, 20);
  options.signal?.throwIfAborted();
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  const q = await search(bits - 1, true, (q) => {
    const p = 2n * q + 1n;
    return modPow(2n, p - 1n, p) === 1n && millerRabin(q, rounds);
  }, options);
  return 2n * q + 1n;
}
