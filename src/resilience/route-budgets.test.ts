import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RouteBudgets } from './route-budgets.ts';

function routes(maxRoutes: number) {
  const clock = { t: 0, now: () => clock.t };
  // One retry per 10 s window and route: minPerSec 0.1, no ratio.
  return { clock, budgets: new RouteBudgets({ budget: { ratio: 0, minPerSec: 0.1 }, maxRoutes, clock }) };
}

test('each route has its own budget, kept across requests', () => {
  const { budgets } = routes(4);
  assert.equal(budgets.get('/v1/models'), budgets.get('/v1/models'));
  assert.equal(budgets.get('/v1/models').tryWithdraw(), true);
  assert.equal(budgets.get('/v1/models').tryWithdraw(), false, 'spent for this route');
  assert.equal(budgets.get('/v1/files').tryWithdraw(), true, 'another route has its own');
});

test('bounded: idle routes make room; past the bound, routes share one budget', () => {
  const { budgets, clock } = routes(2);
  budgets.get('/v1/models').recordRequest();
  budgets.get('/v1/files').recordRequest();
  const a = budgets.get('/v1/models/a');
  const b = budgets.get('/v1/models/b');
  assert.equal(a, b, 'no room: the shared budget');
  assert.equal(a.tryWithdraw(), true);
  assert.equal(b.tryWithdraw(), false, 'one reserve for all of them, not one per invented path');
  clock.t += 20_000;
  const c = budgets.get('/v1/models/c');
  assert.notEqual(c, a, 'the idle routes were forgotten: c has a budget of its own');
  assert.equal(c, budgets.get('/v1/models/c'));
});
