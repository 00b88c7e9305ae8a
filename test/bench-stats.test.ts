import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestSample } from '../bench/load/clients/types.ts';
import type { StepFigures } from '../bench/load/relay-comparison.ts';
import { aggregate, mlperfVerdict } from '../bench/statistics/aggregate.ts';
import { paired } from '../bench/statistics/footprint.ts';
import { cdfPoints, distribution, mean, percentile, ratio, summarize } from '../bench/statistics/stats.ts';

// Hand-computed values: linear interpolation between closest ranks, h = (n - 1) * p / 100.
describe('bench stats: percentiles', () => {
  const ten = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

  it('interpolates between closest ranks (numpy default)', () => {
    // n = 10: p50 -> h = 4.5 -> 50 + 0.5 * (60 - 50) = 55
    assert.equal(percentile(ten, 50), 55);
    // p95 -> h = 8.55 -> 90 + 0.55 * 10 = 95.5
    assert.ok(Math.abs(percentile(ten, 95) - 95.5) < 1e-9);
    // p99 -> h = 8.91 -> 90 + 0.91 * 10 = 99.1
    assert.ok(Math.abs(percentile(ten, 99) - 99.1) < 1e-9);
    // p25 -> h = 2.25 -> 30 + 0.25 * 10 = 32.5
    assert.equal(percentile(ten, 25), 32.5);
  });

  it('does not care about input order, and hits exact ranks exactly', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3); // h = 2 -> x[2]
    assert.equal(percentile([5, 1, 3, 2, 4], 75), 4); // h = 3 -> x[3]
    // The report's 25 requests per model: p95 -> h = 22.8 -> x[22] + 0.8 * (x[23] - x[22])
    const ms = Array.from({ length: 25 }, (_, i) => 1000 + i * 40);
    assert.ok(Math.abs(percentile(ms, 95) - (1880 + 0.8 * 40)) < 1e-9);
  });

  it('handles the edges: one sample, p0, p100, empty, NaN', () => {
    assert.equal(percentile([7], 95), 7);
    assert.equal(percentile(ten, 0), 10);
    assert.equal(percentile(ten, 100), 100);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.equal(percentile([1, Number.NaN, 3], 50), 2);
  });

  it('summarizes, counts and plots', () => {
    const s = summarize([4, 1, 3, 2]);
    assert.deepEqual(
      { count: s.count, mean: s.mean, min: s.min, p50: s.p50, max: s.max },
      { count: 4, mean: 2.5, min: 1, p50: 2.5, max: 4 },
    );
    assert.ok(Math.abs(s.p95 - 3.85) < 1e-9); // h = 2.85 -> 3 + 0.85 * 1
    assert.equal(mean([1, 2, 3, 6]), 3);
    assert.deepEqual(distribution([2, 1, 2, 5, 1, 2]), [
      [1, 2],
      [2, 3],
      [5, 1],
    ]);
    assert.deepEqual(cdfPoints([3, 1, 2, 4]), [
      [1, 0.25],
      [2, 0.5],
      [3, 0.75],
      [4, 1],
    ]);
    const thinned = cdfPoints(
      Array.from({ length: 1000 }, (_, i) => i),
      10,
    );
    assert.equal(thinned.length, 10);
    assert.deepEqual(thinned.at(-1), [999, 1]);
    assert.equal(ratio(3, 2), 1.5);
    assert.ok(Number.isNaN(ratio(3, 0)));
    assert.ok(Number.isNaN(ratio(Number.NaN, 2)));
  });
});

describe('bench stats: aggregation and the MLPerf verdict', () => {
  const sample = (over: Partial<RequestSample>): RequestSample => ({
    path: 'backstop',
    model: 'm',
    ok: true,
    attempts: 1,
    status: 200,
    startMs: 0,
    ttftMs: 100,
    lastAttemptTtftMs: 100,
    e2eMs: 100,
    tokens: 15,
    tpotMs: null,
    itlMs: [],
    ...over,
  });

  it('summarizes per path and model, success and attempts from every request, latency from the successful', () => {
    const [s] = aggregate([
      sample({ attempts: 1, ttftMs: 100, startMs: 0, e2eMs: 100 }),
      sample({ attempts: 3, ttftMs: 300, startMs: 500, e2eMs: 500 }),
      sample({ ok: false, attempts: 10, ttftMs: null, error: 'status 404', startMs: 0, e2eMs: 50 }),
    ]);
    assert.ok(s);
    assert.equal(s.requests, 3);
    assert.equal(s.succeeded, 2);
    assert.ok(Math.abs(s.successRate - 2 / 3) < 1e-9);
    assert.equal(s.attemptsMax, 10);
    assert.ok(Math.abs(s.attemptsMean - 14 / 3) < 1e-9);
    assert.equal(s.ttft.count, 2);
    assert.equal(s.ttft.p50, 200);
    assert.deepEqual(s.errors, { 'status 404': 1 });
    // 2 successes over the group's span: 0 .. 1000 ms.
    assert.equal(s.reqPerSec, 2);
    assert.equal(s.tpot.count, 0, 'non-streaming has no TPOT (the report printed 0.0 ms here)');
  });

  it('passes only under both bars and with every answer right', () => {
    assert.equal(mlperfVerdict(1994, Number.NaN, 1).verdict, 'PASS');
    assert.match(mlperfVerdict(1994, Number.NaN, 1).reason, /TPOT needs streaming/);
    assert.equal(mlperfVerdict(1994, 99, 1).verdict, 'PASS');
    assert.equal(mlperfVerdict(2001, 50, 1).verdict, 'FAIL');
    assert.equal(mlperfVerdict(1500, 101, 1).verdict, 'FAIL');
    assert.match(mlperfVerdict(1500, 50, 0.5).reason, /50% success/);
  });
});

describe('bench footprint: a path against the floor', () => {
  const step = (cpuUsPerRequest: number): StepFigures => ({
    reqPerSec: 1,
    cpuUsPerRequest,
    peakRssBytes: 0,
    peakAnonBytes: 0,
    p50Ms: 0,
    p99Ms: 0,
    failed: 0,
    cdf: [],
  });

  it('pairs the repetitions: the median of their ratios, not the ratio of the medians', () => {
    // Shaped like the --check run on c9365ed: per repetition 1.01x, 1.02x and 1.57x (a burst of
    // noise in the last), where the ratio of the medians would read 81 / 60.5 = 1.34x.
    const backstop = [60, 81, 95].map(step);
    const floor = [59.4, 79.4, 60.5].map(step);
    const r = paired(backstop, floor, (f) => f.cpuUsPerRequest);
    assert.ok(Math.abs(r.value - 81 / 79.4) < 1e-9, String(r.value));
    assert.equal(r.a, 81);
    assert.equal(r.b, 60.5);
  });

  it('leaves out a repetition whose figure is missing on either side', () => {
    const r = paired([step(10), step(Number.NaN), step(30)], [step(10), step(10)], (f) => f.cpuUsPerRequest);
    // Only the first pairs: the second is NaN, the third has no floor run.
    assert.equal(r.value, 1);
  });
});
