/**
 * Statistics for the prime benchmark (`primes.ts`): table cells,
 * least-squares fits of polynomial against exponential growth, doubling
 * ratios and a log-scale bar chart. Pure functions, no measuring.
 *
 * @module
 */

/** One table cell: the median of the completed runs, or a lower bound after a timeout. */
export interface Cell {
  /** Set when an earlier size of the column timed out, so this one was not attempted. */
  skipped?: boolean;
  /** Median milliseconds of the completed runs (undefined if none completed). */
  ms?: number;
  /** Set when a run hit its time limit. */
  timedOutAfterS?: number;
  /** Number of completed runs. */
  runs: number;
  /** Median count of candidates that reached a primality test (ours only). */
  tested?: number;
}

/** Milliseconds in a readable unit. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Least-squares line y = a + b·x with its residual sum of squares and R². */
export function leastSquares(xs: number[], ys: number[]) {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (ys[i]! - intercept - slope * xs[i]!) ** 2;
  return { slope, intercept, rss, r2: 1 - rss / syy };
}

/** A fittable series: measured (bits, value) points of one column. */
export type Series = [number, number][];

/** The completed, untimed-out times of a column. */
export function timeSeries(cells: Map<number, Cell>): Series {
  return [...cells].flatMap(([bits, c]): Series =>
    c.ms !== undefined && c.timedOutAfterS === undefined ? [[bits, c.ms]] : []
  );
}

/** The median tested-candidate counts of a column. */
export function testedSeries(cells: Map<number, Cell>): Series {
  return [...cells].flatMap(([bits, c]): Series => c.tested ? [[bits, c.tested]] : []);
}

/**
 * Fits ln y against ln bits (y ∝ bits^k) and against bits (y ∝ e^(c·bits)) over the points up
 * to `maxBits`, and compares both predictions with the larger measured sizes, if any.
 */
export function fitRow(
  name: string,
  series: Series,
  maxBits: number,
  format: (y: number) => string = formatMs,
): string | undefined {
  const points = series.filter(([b]) => b <= maxBits);
  if (points.length < 3) return undefined;
  const bits = points.map(([b]) => b);
  const logY = points.map(([, y]) => Math.log(y));
  const poly = leastSquares(bits.map(Math.log), logY);
  const expo = leastSquares(bits, logY);
  const better = poly.rss < expo.rss ? "polynomial" : "exponential";
  const heldOut = series.filter(([b]) => b > maxBits).map(([b, y]) => {
    const p = Math.exp(poly.intercept + poly.slope * Math.log(b));
    const e = Math.exp(expo.intercept + expo.slope * b);
    return `${b}: measured ${format(y)}, poly ${format(p)}, exp ${format(e)}`;
  });
  const predict = heldOut.length > 0 ? heldOut.join("; ") : "—";
  return `| ${name} | ${bits[0]}–${bits.at(-1)} | bits^${poly.slope.toFixed(2)} (R² ${
    poly.r2.toFixed(3)
  }, RSS ${poly.rss.toFixed(2)}) | ×${Math.exp(expo.slope * 1024).toFixed(1)} per 1024 bits (R² ${
    expo.r2.toFixed(3)
  }, RSS ${expo.rss.toFixed(2)}) | **${better}** | ${predict} |`;
}

/**
 * Ratio y(2b)/y(b) for every measured size b whose double was also measured. A polynomial
 * b^k gives the same ratio 2^k at every step; an exponential e^(c·b) gives a ratio that
 * squares from one doubling to the next.
 */
export function doublingRow(name: string, series: Series, format: (y: number) => string): string {
  const values = new Map(series);
  const steps = series.flatMap(([b, y]) => {
    const doubled = values.get(2 * b);
    return doubled === undefined ? [] : [`${b}→${2 * b}: ×${format(doubled / y)}`];
  });
  return `| ${name} | ${steps.length > 0 ? steps.join(", ") : "—"} |`;
}

/** Unicode bars on a log scale: 8 characters per factor of 10. */
export function barChart(rows: [string, number | undefined][]): string {
  const known = rows.filter(([, ms]) => ms !== undefined).map(([, ms]) => ms!);
  const floor = 10 ** Math.floor(Math.log10(Math.min(...known)));
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, ms]) => {
    const bar = ms === undefined ? "(not measured)" : "█".repeat(
      Math.max(1, Math.round(8 * Math.log10(ms / floor))),
    ) + ` ${formatMs(ms)}`;
    return `${label.padEnd(width)} │ ${bar}`;
  }).join("\n");
}
