import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BreakerState, CircuitBreaker } from './circuit-breaker.ts';

function setup(random = () => 0.5) {
  const clock = { t: 0, now: () => clock.t };
  const changes: BreakerState[] = [];
  const breaker = new CircuitBreaker(
    { failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 5000 },
    clock,
    random,
    (s) => changes.push(s),
  );
  return { clock, breaker, changes };
}

test('opens after the threshold of consecutive failed requests, not before', () => {
  const { breaker, changes } = setup();
  for (let i = 0; i < 2; i++) breaker.onFailure(breaker.admit());
  assert.equal(breaker.state, BreakerState.closed);
  breaker.onFailure(breaker.admit());
  assert.equal(breaker.state, BreakerState.open);
  assert.deepEqual(changes, [BreakerState.open]);
});

test('a success resets the count of consecutive failures', () => {
  const { breaker } = setup();
  breaker.onFailure(breaker.admit());
  breaker.onFailure(breaker.admit());
  breaker.onSuccess(breaker.admit());
  breaker.onFailure(breaker.admit());
  breaker.onFailure(breaker.admit());
  assert.equal(breaker.state, BreakerState.closed);
});

test('while open, requests are refused with the time left; then exactly one probe goes through', () => {
  const { breaker, clock } = setup();
  for (let i = 0; i < 3; i++) breaker.onFailure(breaker.admit());
  clock.t = 400;
  assert.deepEqual(breaker.admit(), { allowed: false, retryAfterMs: 600 });
  clock.t = 1000;
  const probe = breaker.admit();
  assert.deepEqual(probe, { allowed: true, probe: true });
  assert.equal(breaker.state, BreakerState.halfOpen);
  const other = breaker.admit();
  assert.equal(other.allowed, false);
  breaker.onSuccess(probe);
  assert.equal(breaker.state, BreakerState.closed);
  assert.deepEqual(breaker.admit(), { allowed: true, probe: false });
});

test('a failed probe reopens with a longer cooldown, capped', () => {
  const { breaker, clock } = setup(() => 0);
  for (let i = 0; i < 3; i++) breaker.onFailure(breaker.admit());
  const cooldowns: number[] = [];
  for (let round = 0; round < 5; round++) {
    const opened = clock.t;
    let admission = breaker.admit();
    while (!admission.allowed) {
      clock.t += 100;
      admission = breaker.admit();
    }
    cooldowns.push(clock.t - opened);
    breaker.onFailure(admission);
  }
  assert.deepEqual(cooldowns, [1000, 2000, 4000, 5000, 5000]);
});

test('an abandoned probe frees the slot for another', () => {
  const { breaker, clock } = setup();
  for (let i = 0; i < 3; i++) breaker.onFailure(breaker.admit());
  clock.t = 1000;
  const probe = breaker.admit();
  breaker.onAbandon(probe);
  assert.equal(breaker.admit().allowed, true);
});

test('late failures of requests admitted before opening do not extend the open period', () => {
  const { breaker, clock } = setup();
  const early = [breaker.admit(), breaker.admit(), breaker.admit(), breaker.admit()];
  for (const a of early.slice(0, 3)) breaker.onFailure(a);
  clock.t = 999;
  breaker.onFailure(early[3] as (typeof early)[number]);
  clock.t = 1000;
  assert.equal(breaker.admit().allowed, true);
});
