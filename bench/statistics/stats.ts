/**
 * Descriptive statistics for the benchmark report. Pure functions over plain number arrays.
 *
 * Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the default of
 * numpy.percentile, R's quantile() and Excel's PERCENTILE.INC): for p in [0, 100] over the sorted
 * sample x[0..n-1], h = (n - 1) * p / 100 and the result is x[floor(h)] + (h - floor(h)) *
 * (x[floor(h) + 1] - x[floor(h)]). The report's Python script used numpy, so its p50/p95 figures and
 * ours are computed the same way.
 */

/** Sorts a copy ascending; NaN is dropped, because a missing measurement is not a zero. */
export function sorted(values: readonly number[]): number[] {
  return values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
}

/** Percentile `p` (0-100) of an ascending-sorted sample by linear interpolation; NaN when empty. */
export function percentileSorted(sortedValues: readonly number[], p: number): number {
  const n = sortedValues.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sortedValues[0] as number;
  if (p >= 100) return sortedValues[n - 1] as number;
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const a = sortedValues[lo] as number;
  const b = sortedValues[Math.min(lo + 1, n - 1)] as number;
  return a + (h - lo) * (b - a);
}

/** Percentile `p` (0-100) of an unsorted sample. */
export function percentile(values: readonly number[], p: number): number {
  return percentileSorted(sorted(values), p);
}

/** Arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** The summary every latency column in the report shows. */
export interface Summary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** count, mean, min, p50, p95, p99 and max of a sample (NaN fields when it is empty). */
export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  return {
    count: s.length,
    mean: mean(s),
    min: s.length ? (s[0] as number) : Number.NaN,
    p50: percentileSorted(s, 50),
    p95: percentileSorted(s, 95),
    p99: percentileSorted(s, 99),
    max: s.length ? (s[s.length - 1] as number) : Number.NaN,
  };
}

/** How many samples took each value, keys ascending: the attempts distribution. */
export function distribution(values: readonly number[]): Array<[value: number, count: number]> {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * Empirical CDF as (value, fraction <= value) points, thinned to at most `maxPoints` so a chart of
 * 100,000 samples stays a small SVG. The last point is always the maximum at fraction 1.
 */
export function cdfPoints(
  values: readonly number[],
  maxPoints = 200,
): Array<[value: number, fraction: number]> {
  const s = sorted(values);
  const n = s.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.ceil(n / maxPoints));
  const points: Array<[number, number]> = [];
  for (let i = step - 1; i < n; i += step) points.push([s[i] as number, (i + 1) / n]);
  if (points[points.length - 1]?.[1] !== 1) points.push([s[n - 1] as number, 1]);
  return points;
}

/** `a / b`, or NaN when either side is missing or b is zero: ratios of absent figures are absent. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}
