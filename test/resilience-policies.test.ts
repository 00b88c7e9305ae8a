import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Admission, BreakerState, CircuitBreaker, RetryBudget } from '../src/resilience/index.ts';

// The pure policies with a hand-driven clock: the timing rules the socket-level tests cannot pin
// down without waiting (growth of the cooldown up to its cap, the sliding window refilling).

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  const options = { failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 5000 };

  function openedBreaker(random: () => number) {
    const clock = fakeClock();
    const states: BreakerState[] = [];
    const breaker = new CircuitBreaker(options, clock, random, (s) => states.push(s));
    for (let i = 0; i < 3; i++) breaker.onFailure(breaker.admit());
    return { breaker, clock, states };
  }

  /** Fails probes until the breaker has opened `n` more times; returns each cooldown it chose. */
  function cooldowns(breaker: CircuitBreaker, clock: ReturnType<typeof fakeClock>, n: number): number[] {
    const chosen: number[] = [];
    for (let i = 0; i < n; i++) {
      const refused = breaker.admit() as Extract<Admission, { allowed: false }>;
      chosen.push(refused.retryAfterMs);
      clock.advance(refused.retryAfterMs);
      const probe = breaker.admit();
      assert.deepEqual(probe, { allowed: true, probe: true });
      breaker.onFailure(probe);
    }
    return chosen;
  }

  test('the first cooldown is BREAKER_COOLDOWN_MS; each failed probe doubles it, up to the cap, less 0-20% jitter', () => {
    const high = openedBreaker(() => 0.999_999);
    assert.deepEqual(cooldowns(high.breaker, high.clock, 5).map(Math.round), [800, 1600, 3200, 4000, 4000]);
    const low = openedBreaker(() => 0);
    assert.deepEqual(cooldowns(low.breaker, low.clock, 5), [1000, 2000, 4000, 5000, 5000]);
  });

  test('a successful probe closes it and resets the growth', () => {
    const { breaker, clock, states } = openedBreaker(() => 0.5);
    cooldowns(breaker, clock, 2);
    clock.advance(10_000);
    const probe = breaker.admit();
    assert.equal(breaker.state, BreakerState.halfOpen);
    assert.equal(breaker.admit().allowed, false, 'exactly one probe');
    breaker.onSuccess(probe);
    assert.equal(breaker.state, BreakerState.closed);
    for (let i = 0; i < 3; i++) breaker.onFailure(breaker.admit());
    assert.deepEqual(
      breaker.admit(),
      { allowed: false, retryAfterMs: 900 },
      'back to the base cooldown (less jitter)',
    );
    assert.deepEqual(states, [
      BreakerState.open,
      BreakerState.halfOpen,
      BreakerState.open,
      BreakerState.halfOpen,
      BreakerState.open,
      BreakerState.halfOpen,
      BreakerState.closed,
      BreakerState.open,
    ]);
  });

  test('an abandoned probe (client gone, client error) frees the slot without a verdict', () => {
    const { breaker, clock } = openedBreaker(() => 0);
    clock.advance(1000);
    const probe = breaker.admit();
    breaker.onAbandon(probe);
    assert.equal(breaker.state, BreakerState.halfOpen);
    assert.deepEqual(breaker.admit(), { allowed: true, probe: true }, 'the next request probes');
  });

  test('failures of requests admitted before it opened change nothing once it is open', () => {
    const clock = fakeClock();
    const breaker = new CircuitBreaker(options, clock, () => 0);
    const early = [breaker.admit(), breaker.admit(), breaker.admit(), breaker.admit(), breaker.admit()];
    for (const a of early.slice(0, 3)) breaker.onFailure(a);
    clock.advance(900);
    for (const a of early.slice(3)) breaker.onFailure(a);
    assert.deepEqual(
      breaker.admit(),
      { allowed: false, retryAfterMs: 100 },
      'the cooldown was not restarted',
    );
  });
});

describe('RetryBudget', () => {
  test('ratio x requests + reserve over the sliding 10 s window; it refills as requests slide out', () => {
    const clock = fakeClock(0);
    const budget = new RetryBudget({ ratio: 2, minPerSec: 0.5 }, clock); // reserve: 5 per window
    for (let i = 0; i < 10; i++) budget.recordRequest();
    let granted = 0;
    while (budget.tryWithdraw()) granted++;
    assert.equal(granted, 25, '2 x 10 requests + 5');
    clock.advance(5000);
    assert.equal(budget.tryWithdraw(), false, 'half a window later the requests still count');
    clock.advance(5000);
    assert.equal(budget.tryWithdraw(), true, 'after the window both requests and retries slid out');
  });

  test('the default ratio 2.0 lets the report flapping (about 1.3 retries per request) through with room', () => {
    const clock = fakeClock(0);
    const budget = new RetryBudget({ ratio: 2, minPerSec: 0 }, clock);
    let refused = 0;
    // 40 requests/s for 30 s; each needs 1.3 retries on average (3 of every 10 need 2).
    for (let tick = 0; tick < 1200; tick++) {
      clock.advance(25);
      budget.recordRequest();
      const retries = tick % 10 < 3 ? 2 : 1;
      for (let r = 0; r < retries; r++) if (!budget.tryWithdraw()) refused++;
    }
    assert.equal(refused, 0);
  });
});
