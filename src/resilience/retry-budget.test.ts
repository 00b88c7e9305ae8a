import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBudget } from './retry-budget.ts';

const clockAt = (t = 0) => {
  const clock = { t, now: () => clock.t };
  return clock;
};

test('allows ratio x requests plus the per-second reserve over the window', () => {
  const clock = clockAt();
  const budget = new RetryBudget({ ratio: 2, minPerSec: 1 }, clock);
  for (let i = 0; i < 10; i++) budget.recordRequest();
  let granted = 0;
  while (budget.tryWithdraw()) granted++;
  // 2 x 10 requests + 1/s x 10 s.
  assert.equal(granted, 30);
});

test('a ratio of 0 still leaves the reserve for low traffic', () => {
  const budget = new RetryBudget({ ratio: 0, minPerSec: 0.5 }, clockAt());
  let granted = 0;
  while (budget.tryWithdraw()) granted++;
  assert.equal(granted, 5);
});

test('deposits and withdrawals slide out of the window', () => {
  const clock = clockAt();
  const budget = new RetryBudget({ ratio: 1, minPerSec: 0 }, clock);
  budget.recordRequest();
  assert.equal(budget.tryWithdraw(), true);
  assert.equal(budget.tryWithdraw(), false);
  clock.t = 10_500;
  assert.equal(budget.idle, true);
  assert.equal(budget.tryWithdraw(), false, 'the old deposit is gone too');
  budget.recordRequest();
  assert.equal(budget.tryWithdraw(), true);
});

test('a long pause clears every bucket, not only the window length of them', () => {
  const clock = clockAt(5_000);
  const budget = new RetryBudget({ ratio: 1, minPerSec: 0 }, clock);
  for (let i = 0; i < 5; i++) budget.recordRequest();
  clock.t = 1_000_000;
  assert.equal(budget.idle, true);
});
