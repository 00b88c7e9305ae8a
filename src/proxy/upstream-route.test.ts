import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BreakerState, ModelPolicies } from '../resilience/index.ts';
import type { AttemptSpec } from './attempt.ts';
import { UpstreamRoute } from './upstream-route.ts';

// The upstream choice of one request (direct fallback, issue 11) with a fake clock: which breaker
// hears what, and that a request moves direct once and back once.

const GATEWAY = { path: '/gw/v1/chat/completions' } as AttemptSpec;
const DIRECT = { path: '/v1/chat/completions' } as AttemptSpec;

function setup() {
  const clock = { now: () => 0 };
  const options = {
    breaker: { failureThreshold: 1, cooldownMs: 600_000, maxCooldownMs: 600_000 },
    budget: { ratio: 1, minPerSec: 1 },
    misrouteBudget: { ratio: 1, minPerSec: 1 },
    maxModels: 10,
    clock,
    random: () => 0,
  };
  const gateway = new ModelPolicies(options).get('phi');
  const direct = new ModelPolicies(options).get('phi');
  const route = new UpstreamRoute(GATEWAY, DIRECT, direct);
  route.useGateway(gateway);
  const admission = gateway.breaker.admit();
  assert.ok(admission.allowed);
  route.holdGateway(admission);
  return { route, gateway, direct };
}

test('after routing misses: the gateway hears nothing, and a failure direct hands the request back once', () => {
  const { route, gateway, direct } = setup();
  assert.equal(route.goDirect('abandon'), true);
  assert.equal(route.upstream, 'direct');
  assert.equal(route.spec, DIRECT);
  assert.equal(route.policy, direct);
  assert.equal(gateway.breaker.state, BreakerState.closed, 'misses are no gateway failure');
  assert.equal(route.backToGateway(), true);
  assert.equal(direct.breaker.state, BreakerState.open, 'the failure is the endpoint’s');
  assert.equal(route.spec, GATEWAY);
  assert.equal(route.policy, gateway);
  assert.equal(route.goDirect('abandon'), false, 'direct at most once');
  assert.equal(route.backToGateway(), false);
  route.failed('abandon');
  assert.equal(gateway.breaker.state, BreakerState.closed);
});

test('a gateway that cannot be reached is a gateway failure, and the request stays direct', () => {
  const { route, gateway, direct } = setup();
  assert.equal(route.goDirect('failure'), true);
  assert.equal(gateway.breaker.state, BreakerState.open);
  assert.equal(route.backToGateway(), false, 'the gateway failed: no way back');
  route.failed('abandon');
  assert.equal(direct.breaker.state, BreakerState.open, 'giving up direct is a failure there');
});

test('an open endpoint breaker keeps the request on the gateway; no endpoint, no move', () => {
  const { route, direct } = setup();
  const probe = direct.breaker.admit();
  direct.breaker.onFailure(probe);
  assert.equal(direct.breaker.state, BreakerState.open);
  assert.equal(route.goDirect('abandon'), false);
  assert.equal(route.upstream, 'gateway');
  const alone = new UpstreamRoute(GATEWAY, undefined, direct);
  assert.equal(alone.goDirect('refused'), false);
});

test('success direct settles the endpoint, not the gateway', () => {
  const { route, gateway, direct } = setup();
  route.goDirect('refused');
  route.ticket.settle('success');
  route.abandon();
  assert.equal(direct.breaker.state, BreakerState.closed);
  assert.equal(gateway.breaker.state, BreakerState.closed);
});
