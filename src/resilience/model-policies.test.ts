import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BreakerState } from './circuit-breaker.ts';
import { ModelPolicies } from './model-policies.ts';

function policies(maxModels: number) {
  const clock = { t: 0, now: () => clock.t };
  const events: [string, BreakerState][] = [];
  const registry = new ModelPolicies({
    breaker: { failureThreshold: 1, cooldownMs: 1000, maxCooldownMs: 1000 },
    budget: { ratio: 1, minPerSec: 0 },
    misrouteBudget: { ratio: 1, minPerSec: 0 },
    maxModels,
    clock,
    random: () => 0,
    onBreakerState: (model, state) => events.push([model, state]),
  });
  return { registry, clock, events };
}

test('one breaker per model: a dead model does not open the other', () => {
  const { registry, events } = policies(10);
  const a = registry.get('a');
  a.breaker.onFailure(a.breaker.admit());
  assert.equal(registry.get('a').breaker.state, BreakerState.open);
  assert.equal(registry.get('b').breaker.state, BreakerState.closed);
  assert.deepEqual(events, [['a', BreakerState.open]]);
});

test('bounded: policies of models without recent requests are forgotten to make room, busy ones kept', () => {
  const { registry, clock } = policies(2);
  const open = registry.get('open');
  open.budget.recordRequest();
  open.breaker.onFailure(open.breaker.admit());
  const junk = registry.get('junk-that-failed-once');
  junk.budget.recordRequest();
  junk.breaker.onFailure(junk.breaker.admit());
  clock.t = 8_000;
  registry.get('open').budget.recordRequest();
  clock.t = 12_000;
  registry.get('new');
  assert.equal(registry.size, 2);
  assert.equal(
    registry.get('open').breaker.state,
    BreakerState.open,
    'the busy open breaker survived the sweep',
  );
  assert.notEqual(registry.get('junk-that-failed-once'), junk, 'the idle one was forgotten');
});

test('when nothing can be forgotten, a fresh policy serves the request without being kept', () => {
  const { registry } = policies(1);
  const open = registry.get('open');
  open.budget.recordRequest();
  open.breaker.onFailure(open.breaker.admit());
  const other = registry.get('other');
  assert.equal(other.breaker.state, BreakerState.closed);
  assert.equal(registry.size, 1);
});
