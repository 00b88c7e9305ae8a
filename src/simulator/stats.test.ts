import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RECENT_LIMIT, StatsRecorder } from './stats.ts';

test('outcomes count per model; reset zeroes all but inflight', () => {
  const stats = new StatsRecorder(['a']);
  stats.received();
  stats.observe('POST', '/v1/completions', 'a', false, {
    host: 'h',
    authorization: 'Bearer k',
    'x-request-id': 'r1',
  });
  stats.outcome('misrouted_404', 'a');
  stats.fault('reset', 'a');
  let snap = stats.snapshot();
  assert.equal(snap.inflight, 1);
  assert.equal(snap.byModel.a?.misrouted404, 1);
  assert.equal(snap.byModel.a?.faults.reset, 1);
  assert.equal(snap.outcomes.misrouted_404, 1);
  assert.deepEqual(
    { ...snap.recent[0], headers: undefined },
    {
      method: 'POST',
      path: '/v1/completions',
      model: 'a',
      stream: false,
      requestId: 'r1',
      authorization: true,
      host: 'h',
      headers: undefined,
    },
  );
  assert.equal(snap.recent[0]?.headers.authorization, undefined, 'the credential is not kept');
  stats.reset();
  snap = stats.snapshot();
  assert.equal(snap.received, 0);
  assert.equal(snap.outcomes.misrouted_404, 0);
  assert.equal(snap.inflight, 1, 'inflight is a gauge');
});

test('recent keeps the last requests only, and snapshots are detached', () => {
  const stats = new StatsRecorder([]);
  for (let i = 0; i < RECENT_LIMIT + 5; i++) stats.observe('GET', `/v1/${i}`, null, false, {});
  const snap = stats.snapshot();
  assert.equal(snap.recent.length, RECENT_LIMIT);
  assert.equal(snap.recent[0]?.path, '/v1/5');
  snap.received = 99;
  assert.equal(stats.snapshot().received, 0);
});
