/**
 * Parsers for command-line flag values, shared by `ssp-server` and
 * `ssp-client` so that both refuse a bad value with the same message.
 *
 * @module
 */

/**
 * A commander `argParser` for a whole number in [min, max]: returns a function
 * that turns the flag's text into that number, or throws a TypeError that
 * names the flag, the range and what was given.
 */
export function integerFlag(name: string, min: number, max: number): (text: string) => number {
  return (text: string): number => {
    const n = text.trim() === "" ? NaN : Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new TypeError(`${name} must be a whole number from ${min} to ${max}, got "${text}"`);
    }
    return n;
  };
}
