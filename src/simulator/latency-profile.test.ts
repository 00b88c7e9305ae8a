import assert from 'node:assert/strict';
import { test } from 'node:test';
import { profileMean, quantile, sampleLatency } from './latency-profile.ts';
import { DEFAULT_MODELS } from './models.ts';
import { createRng } from './rng.ts';

// The measured T4 figures at max_tokens 15 (reference/pattern2-gpu-results.md).
const REPORT: Record<string, { mean: number; p50: number; p95: number }> = {
  'microsoft/Phi-3-mini-4k-instruct': { mean: 1849, p50: 1906, p95: 1994 },
  'google/gemma-2b-it': { mean: 1082, p50: 1047, p95: 1346 },
};

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= expected * tolerance,
    `${what}: ${actual.toFixed(1)} vs ${expected}`,
  );

for (const model of DEFAULT_MODELS) {
  const target = REPORT[model.name];
  test(`${model.name}: 20k samples match the report's mean, p50 and p95 within 2%`, () => {
    assert.ok(target);
    const rng = createRng(42);
    const samples = Array.from({ length: 20_000 }, () => sampleLatency(model.ttft, rng)).sort(
      (a, b) => a - b,
    );
    const mean = samples.reduce((sum, x) => sum + x, 0) / samples.length;
    near(mean, target.mean, 0.02, 'mean');
    near(samples[Math.floor(samples.length * 0.5)] ?? 0, target.p50, 0.02, 'p50');
    near(samples[Math.floor(samples.length * 0.95)] ?? 0, target.p95, 0.02, 'p95');
  });

  test(`${model.name}: the profile's exact moments are within 0.5% of the report`, () => {
    assert.ok(target);
    near(profileMean(model.ttft), target.mean, 0.005, 'mean');
    near(quantile(model.ttft, 0.5), target.p50, 0.005, 'p50');
    near(quantile(model.ttft, 0.95), target.p95, 0.005, 'p95');
  });
}

test('Phi-3 is left-skewed (mean under median) and Gemma right-skewed, as measured', () => {
  const [phi, gemma] = DEFAULT_MODELS;
  assert.ok(phi && gemma);
  assert.ok(profileMean(phi.ttft) < quantile(phi.ttft, 0.5));
  assert.ok(profileMean(gemma.ttft) > quantile(gemma.ttft, 0.5));
});

test('quantile interpolates linearly and clamps at the ends', () => {
  const points = [
    [0, 100],
    [0.5, 200],
    [1, 400],
  ] as const;
  assert.equal(quantile(points, 0), 100);
  assert.equal(quantile(points, 0.25), 150);
  assert.equal(quantile(points, 0.75), 300);
  assert.equal(quantile(points, 1), 400);
  assert.equal(profileMean(points), 225);
});
