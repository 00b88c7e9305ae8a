import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anyFaultRate, DEFAULT_FAULTS, drawFault, type FaultName, mergeFaults } from './faults.ts';
import { createRng } from './rng.ts';

test('mergeFaults merges valid fields and names the bad one', () => {
  const merged = mergeFaults(DEFAULT_FAULTS, { reset: 0.2, misroute: 'wrong-model-200', outage: ['m'] });
  assert.equal(merged.reset, 0.2);
  assert.equal(merged.misroute, 'wrong-model-200');
  assert.equal(merged.flapping, true, 'untouched fields keep their value');
  assert.equal(DEFAULT_FAULTS.reset, 0, 'the defaults are not mutated');
  assert.throws(() => mergeFaults(DEFAULT_FAULTS, { rest: 1 }), /unknown fault field "rest"/);
  assert.throws(() => mergeFaults(DEFAULT_FAULTS, { reset: 2 }), /invalid value for "reset"/);
  assert.throws(() => mergeFaults(DEFAULT_FAULTS, { misroute: '500' }), /"misroute"/);
  assert.throws(() => mergeFaults(DEFAULT_FAULTS, { latency: { ttftMs: -1, tpotMs: 1 } }), /"latency"/);
  assert.throws(() => mergeFaults(DEFAULT_FAULTS, []), /JSON object/);
  assert.equal(mergeFaults(DEFAULT_FAULTS, { hang: { 'a/b': 1 } }).hang['a/b' as never], 1);
});

function tally(patch: object, model: string, stream: boolean, n = 10_000) {
  const faults = mergeFaults(DEFAULT_FAULTS, patch);
  const rng = createRng(11);
  const counts = new Map<FaultName | null, number>();
  for (let i = 0; i < n; i++) {
    const fault = drawFault(faults, model, stream, rng);
    counts.set(fault, (counts.get(fault) ?? 0) + 1);
  }
  return counts;
}

test('rates are probabilities of one categorical draw', () => {
  const counts = tally({ reset: 0.1, hang: 0.2 }, 'm', false);
  assert.ok(Math.abs((counts.get('reset') ?? 0) - 1000) < 100);
  assert.ok(Math.abs((counts.get('hang') ?? 0) - 2000) < 150);
  assert.ok(Math.abs((counts.get(null) ?? 0) - 7000) < 200);
});

test('a per-model rate applies to that model only ("*" for the rest)', () => {
  assert.equal(tally({ reset: { a: 1 } }, 'a', false, 100).get('reset'), 100);
  assert.equal(tally({ reset: { a: 1 } }, 'b', false, 100).get(null), 100);
  assert.equal(tally({ reset: { a: 0, '*': 1 } }, 'b', false, 100).get('reset'), 100);
});

test('JSON-only and stream-only faults do nothing on the other kind of response', () => {
  assert.equal(tally({ garbageJson: 1 }, 'm', true, 100).get(null), 100);
  assert.equal(tally({ truncatedSse: 1 }, 'm', false, 100).get(null), 100);
  assert.equal(tally({ truncatedSse: 1 }, 'm', true, 100).get('truncatedSse'), 100);
});

test('anyFaultRate is false by default, so the draw (and its RNG use) is skipped', () => {
  assert.equal(anyFaultRate(DEFAULT_FAULTS), false);
  assert.equal(anyFaultRate(mergeFaults(DEFAULT_FAULTS, { hang: { a: 0.1 } })), true);
});
