import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BreakerState } from './circuit-breaker.ts';
import { ModelPolicies } from './model-policies.ts';

const WINDOW_MS = 10_000;

function policies(maxModels: number) {
  const clock = { t: 0, now: () => clock.t };
  const events: [string, BreakerState][] = [];
  const registry = new ModelPolicies({
    breaker: { failureThreshold: 1, cooldownMs: 600_000, maxCooldownMs: 600_000 },
    budget: { ratio: 0, minPerSec: 0.1 },
    misrouteBudget: { ratio: 0, minPerSec: 0.1 },
    maxModels,
    clock,
    random: () => 0,
    onBreakerState: (model, state) => events.push([model, state]),
  });
  return { registry, clock, events };
}

/**
 * One request as src/proxy/forward.ts makes it: the breaker first, and only an admitted request
 * reaches the budgets (a refused one returns before them, so an open breaker's budgets go idle).
 */
function request(registry: ModelPolicies, model: string, verdict: 'success' | 'failure'): 'refused' | 'sent' {
  const policy = registry.get(model);
  const admission = policy.breaker.admit();
  if (!admission.allowed) return 'refused';
  policy.budget.recordRequest();
  policy.misrouteBudget.recordRequest();
  if (verdict === 'success') policy.breaker.onSuccess(admission);
  else policy.breaker.onFailure(admission);
  return 'sent';
}

test('one breaker per model: a dead model does not open the other', () => {
  const { registry, events } = policies(10);
  request(registry, 'a', 'failure');
  assert.equal(registry.get('a').breaker.state, BreakerState.open);
  assert.equal(registry.get('b').breaker.state, BreakerState.closed);
  assert.deepEqual(events, [['a', BreakerState.open]]);
});

test('an open breaker is never forgotten: a flood of new names sweeps only the closed, idle ones', () => {
  const { registry, clock } = policies(3);
  request(registry, 'dead', 'failure');
  const dead = registry.get('dead');
  assert.equal(dead.breaker.state, BreakerState.open);
  // Its clients keep asking and are refused: nothing reaches its budgets, which go idle.
  for (let i = 0; i < 5; i++) {
    clock.t += WINDOW_MS;
    assert.equal(request(registry, 'dead', 'success'), 'refused');
  }
  assert.ok(dead.budget.idle, 'the state production reaches: an open breaker with idle budgets');
  // Twenty invented names, each seen once, a window apart: every sweep finds idle policies.
  for (let i = 0; i < 20; i++) {
    clock.t += WINDOW_MS + 1000;
    assert.equal(request(registry, `invented-${i}`, 'success'), 'sent');
    assert.ok(registry.size <= 3);
  }
  assert.equal(registry.get('dead'), dead, 'still the same policy');
  assert.equal(request(registry, 'dead', 'success'), 'refused', 'and its breaker still refuses');
});

test('a half-open breaker with its probe out is not forgotten either', () => {
  const { registry, clock } = policies(1);
  request(registry, 'probing', 'failure');
  const probing = registry.get('probing');
  clock.t += 600_000 + WINDOW_MS;
  const probe = probing.breaker.admit();
  assert.deepEqual(probe, { allowed: true, probe: true });
  assert.equal(probing.breaker.state, BreakerState.halfOpen);
  registry.get('newcomer');
  assert.equal(registry.get('probing'), probing);
});

test('a closed policy with requests waiting in its misroute queue is kept', () => {
  const { registry, clock } = policies(1);
  request(registry, 'waiting', 'success');
  const waiting = registry.get('waiting');
  const place = waiting.misrouteQueue.enter();
  clock.t += 2 * WINDOW_MS;
  registry.get('newcomer');
  assert.equal(registry.get('waiting'), waiting);
  place.leave();
  registry.get('newcomer');
  assert.notEqual(registry.get('waiting'), waiting, 'forgotten once the queue is empty');
});

test('when nothing can be forgotten, new names get a policy that is not kept, with shared budgets and a silent breaker', () => {
  const { registry, events } = policies(1);
  request(registry, 'dead', 'failure');
  const a = registry.get('overflow-a');
  const b = registry.get('overflow-b');
  assert.equal(registry.size, 1);
  assert.notEqual(registry.get('overflow-a'), a, 'not kept');
  assert.equal(a.breaker.state, BreakerState.closed);
  // Shared: one reserve (minPerSec 0.1 over 10 s = one retry) for all of them, not one per name.
  assert.equal(a.budget, b.budget);
  assert.equal(a.misrouteBudget, b.misrouteBudget);
  assert.equal(a.budget.tryWithdraw(), true);
  assert.equal(b.budget.tryWithdraw(), false);
  // A breaker that is not kept has no state worth reporting: it dies with its request.
  a.breaker.onFailure(a.breaker.admit());
  assert.equal(a.breaker.state, BreakerState.open);
  assert.deepEqual(events, [['dead', BreakerState.open]]);
});
