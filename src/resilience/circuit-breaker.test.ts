import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BreakerState, CircuitBreaker } from './circuit-breaker.ts';

// With random() = 0.5 every cooldown is 10% short of its nominal value: the first one is 900 ms.
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
  assert.deepEqual(breaker.admit(), { allowed: false, retryAfterMs: 500 });
  clock.t = 900;
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
  clock.t = 900;
  const probe = breaker.admit();
  breaker.onAbandon(probe);
  assert.equal(breaker.admit().allowed, true);
});

test('late failures of requests admitted before opening do not extend the open period', () => {
  const { breaker, clock } = setup();
  const early = [breaker.admit(), breaker.admit(), breaker.admit(), breaker.admit()];
  for (const a of early.slice(0, 3)) breaker.onFailure(a);
  clock.t = 899;
  breaker.onFailure(early[3] as (typeof early)[number]);
  clock.t = 900;
  assert.equal(breaker.admit().allowed, true);
});

/** mulberry32: a small seeded PRNG, so the draws are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Opens a fresh breaker at t = 0 and returns the first time (1 ms steps) it lets a probe through. */
function firstProbeAt(random: () => number, cooldownMs: number, maxCooldownMs: number): number {
  const clock = { t: 0, now: () => clock.t };
  const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs, maxCooldownMs }, clock, random);
  breaker.onFailure(breaker.admit());
  for (;;) {
    const admission = breaker.admit();
    if (admission.allowed) return clock.t;
    // A refusal always has time left, so the Retry-After built from it is at least 1 s.
    assert.ok(admission.retryAfterMs > 0, `retryAfterMs ${admission.retryAfterMs} at ${clock.t}`);
    assert.ok(Math.max(1, Math.ceil(admission.retryAfterMs / 1000)) >= 1);
    clock.t += 1;
  }
}

test('the first cooldown is jittered too: breakers that open together do not all probe together', () => {
  // 100 sidecars, each with its own seeded draws, open at the same instant.
  const probes = Array.from({ length: 100 }, (_, i) => firstProbeAt(seeded(i + 1), 1000, 60_000));
  const [earliest, latest] = [Math.min(...probes), Math.max(...probes)];
  assert.ok(earliest >= 800 && latest <= 1000, `within 20% below BREAKER_COOLDOWN_MS: ${earliest}-${latest}`);
  assert.ok(latest - earliest >= 150, `spread over the jitter window: ${earliest}-${latest} ms`);
  assert.ok(new Set(probes).size >= 60, `${new Set(probes).size} distinct probe times of 100`);
});

test('at the cap the cooldown is still jittered, and never above the cap', () => {
  // cooldown = cap: the first cooldown is already capped; a jitter drawn above it would be cut off.
  const probes = Array.from({ length: 50 }, (_, i) => firstProbeAt(seeded(1000 + i), 2000, 2000));
  assert.ok(
    Math.max(...probes) <= 2000 && Math.min(...probes) >= 1600,
    `${Math.min(...probes)}-${Math.max(...probes)}`,
  );
  assert.ok(new Set(probes).size >= 30, `${new Set(probes).size} distinct probe times of 50`);
});
