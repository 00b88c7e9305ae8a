import type { Rng } from './rng.ts';

/**
 * An inverse CDF as (quantile, value) points with quantiles rising from 0 to 1; values in between
 * are linearly interpolated. Piecewise-linear so that mean, median and p95 can all be pinned to
 * measured figures, which no two-parameter distribution does for a left-skewed sample.
 */
export type QuantilePoints = readonly (readonly [quantile: number, ms: number])[];

/** The value at quantile `u` in [0, 1]. */
export function quantile(points: QuantilePoints, u: number): number {
  let previous = points[0];
  if (previous === undefined) throw new Error('a latency profile needs at least one point');
  for (const point of points) {
    if (u <= point[0]) {
      const span = point[0] - previous[0];
      return span === 0 ? point[1] : previous[1] + ((point[1] - previous[1]) * (u - previous[0])) / span;
    }
    previous = point;
  }
  return previous[1];
}

/** One latency draw: inverse-transform sampling with the seeded RNG. */
export function sampleLatency(points: QuantilePoints, rng: Rng): number {
  return quantile(points, rng.next());
}

/** The exact mean of the distribution: the area under the inverse CDF (trapezoids). */
export function profileMean(points: QuantilePoints): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (a && b) area += ((b[0] - a[0]) * (a[1] + b[1])) / 2;
  }
  return area;
}
