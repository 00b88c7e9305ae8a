import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, misrouteDelay, parseRetryAfter } from './backoff.ts';

const options = { baseDelayMs: 50, maxDelayMs: 2000 };

test('full jitter: random(0, min(max, base * 2^(retry-1)))', () => {
  assert.equal(
    backoffDelay(1, options, () => 0.5),
    25,
  );
  assert.equal(
    backoffDelay(3, options, () => 0.5),
    100,
  );
  assert.equal(
    backoffDelay(3, options, () => 0.999),
    199.8,
  );
  assert.equal(
    backoffDelay(10, options, () => 0.5),
    1000,
  );
  assert.equal(
    backoffDelay(1, options, () => 0),
    0,
  );
});

test('Retry-After is a floor, honoured in full (the deadline, not the maximum delay, bounds it)', () => {
  assert.equal(
    backoffDelay(1, options, () => 0.5, 1000),
    1000,
  );
  assert.equal(
    backoffDelay(1, options, () => 0.5, 60_000),
    60_000,
  );
  assert.equal(
    backoffDelay(8, options, () => 0.9, 10),
    1800,
  );
});

test('Retry-After parses delay-seconds and HTTP-dates (RFC 9110 10.2.3)', () => {
  const now = Date.parse('2026-11-29T00:00:00Z');
  assert.equal(parseRetryAfter('3', now), 3000);
  assert.equal(parseRetryAfter([' 0 '], now), 0);
  assert.equal(parseRetryAfter('Sun, 29 Nov 2026 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Sat, 28 Nov 2026 00:00:05 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});

test('routing misses: the first fastRetries within fastDelayMs, then the ordinary backoff from its first step', () => {
  const fast = { fastRetries: 5, fastDelayMs: 5, ...options };
  for (let miss = 1; miss <= 5; miss++) {
    assert.equal(
      misrouteDelay(miss, fast, () => 0.999),
      4.995,
    );
  }
  // The 6th miss is the backoff's first retry (base 50), the 8th its third (200), capped at max.
  assert.equal(
    misrouteDelay(6, fast, () => 0.5),
    25,
  );
  assert.equal(
    misrouteDelay(8, fast, () => 0.5),
    100,
  );
  assert.equal(
    misrouteDelay(30, fast, () => 0.5),
    1000,
  );
  assert.equal(
    misrouteDelay(1, { ...fast, fastRetries: 0 }, () => 0.5),
    25,
  );
});
