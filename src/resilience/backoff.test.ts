import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, parseRetryAfter } from './backoff.ts';

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

test('Retry-After is a floor, capped by the maximum delay', () => {
  assert.equal(
    backoffDelay(1, options, () => 0.5, 1000),
    1000,
  );
  assert.equal(
    backoffDelay(1, options, () => 0.5, 60_000),
    2000,
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
