import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDiscovery, type DiscoveryContext } from './discovery.ts';
import { DEFAULT_FAULTS, mergeFaults, type SimFaults } from './faults.ts';
import { createRng } from './rng.ts';

const A = 'model-a';
const B = 'model-b';

function context(patch: Partial<SimFaults> = {}): DiscoveryContext {
  return {
    faults: mergeFaults(DEFAULT_FAULTS, patch),
    backends: [A, B],
    defaultVisibility: { [A]: 0.5, [B]: 0.45 },
    timeScale: 1,
  };
}

function tally(n: number, ctx: DiscoveryContext, model = A, now = () => 0) {
  const discovery = createDiscovery(createRng(1), now);
  const counts = { own: 0, other: 0, none: 0 };
  for (let i = 0; i < n; i++) counts[discovery.route(model, ctx).kind]++;
  return counts;
}

test('per-request flapping: own with p, other with (1-p)q, none with (1-p)(1-q)', () => {
  const n = 20_000;
  const counts = tally(n, context());
  assert.ok(Math.abs(counts.own / n - 0.5) < 0.015, `own ${counts.own}`);
  assert.ok(Math.abs(counts.other / n - 0.5 * 0.45) < 0.015, `other ${counts.other}`);
  assert.ok(Math.abs(counts.none / n - 0.5 * 0.55) < 0.015, `none ${counts.none}`);
});

test('faults.visibility overrides the model default', () => {
  const counts = tally(10_000, context({ visibility: { [A]: 0.9 } }));
  assert.ok(Math.abs(counts.own / 10_000 - 0.9) < 0.015, `own ${counts.own}`);
});

test('without flapping every backend is visible; an outage never is', () => {
  assert.deepEqual(tally(100, context({ flapping: false })), { own: 100, other: 0, none: 0 });
  assert.deepEqual(tally(100, context({ flapping: false, outage: [A] })), { own: 0, other: 100, none: 0 });
  assert.deepEqual(tally(100, context({ flapping: false, outage: [A, B] })), { own: 0, other: 0, none: 100 });
  const flapping = tally(1000, context({ outage: [A] }));
  assert.equal(flapping.own, 0);
  assert.ok(flapping.other > 0 && flapping.none > 0);
});

test('with an interval the view holds for a period and is redrawn after it (sticky flapping)', () => {
  let clock = 0;
  const discovery = createDiscovery(createRng(3), () => clock);
  const ctx = context({ discoveryIntervalMs: 1000 });
  const kinds = new Set<string>();
  const perPeriod: string[] = [];
  for (let period = 0; period < 200; period++) {
    clock = period * 1000 + 1;
    const first = discovery.route(A, ctx).kind;
    for (let i = 0; i < 20; i++) {
      clock = period * 1000 + 1 + i * 40;
      assert.equal(
        discovery.route(A, ctx).kind === 'own',
        first === 'own',
        'the view changed within a period',
      );
    }
    kinds.add(first);
    perPeriod.push(first);
  }
  assert.deepEqual([...kinds].sort(), ['none', 'other', 'own']);
  const own = perPeriod.filter((k) => k === 'own').length;
  assert.ok(own > 70 && own < 130, `own in ${own} of 200 periods`);
});

test('invalidate forces a redraw within the same period', () => {
  const discovery = createDiscovery(createRng(5), () => 0);
  const sticky = context({ discoveryIntervalMs: 1e9, visibility: { [A]: 0 } });
  assert.notEqual(discovery.route(A, sticky).kind, 'own');
  const visible = context({ discoveryIntervalMs: 1e9, visibility: { [A]: 1 } });
  assert.notEqual(discovery.route(A, visible).kind, 'own', 'no redraw before invalidate');
  discovery.invalidate();
  assert.equal(discovery.route(A, visible).kind, 'own');
});

test('the same seed routes the same sequence', () => {
  const run = () => {
    const discovery = createDiscovery(createRng(9), () => 0);
    return Array.from({ length: 200 }, (_, i) => discovery.route(i % 2 ? A : B, context()).kind).join();
  };
  assert.equal(run(), run());
});
