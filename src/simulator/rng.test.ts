import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, deriveSeed, hashString } from './rng.ts';

const take = (seed: number, n: number) => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.next());
};

test('the same seed gives the same sequence, another seed another one', () => {
  assert.deepEqual(take(42, 100), take(42, 100));
  assert.notDeepEqual(take(42, 100), take(43, 100));
});

test('draws are uniform in [0, 1)', () => {
  const draws = take(7, 20_000);
  assert.ok(draws.every((x) => x >= 0 && x < 1));
  const buckets = new Array<number>(10).fill(0);
  for (const x of draws) buckets[Math.floor(x * 10)] = (buckets[Math.floor(x * 10)] ?? 0) + 1;
  for (const count of buckets) assert.ok(Math.abs(count - 2000) < 200, `bucket ${count} far from 2000`);
});

test('derived seeds are stable and differ per label', () => {
  assert.equal(deriveSeed(42, 'discovery'), deriveSeed(42, 'discovery'));
  assert.notEqual(deriveSeed(42, 'discovery'), deriveSeed(42, 'faults'));
  assert.notEqual(deriveSeed(42, 'discovery'), deriveSeed(41, 'discovery'));
  assert.equal(hashString(''), 0x811c9dc5);
});
