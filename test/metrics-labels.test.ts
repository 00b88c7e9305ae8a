import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { type AnyModelUpstream, startAnyModelUpstream } from './support/any-model-upstream.ts';
import { startBackstop } from './support/backstop-process.ts';
import { labelValues, scrapeMetrics, sumOf } from './support/metrics-text.ts';

/**
 * The `model` label is client-controlled, so it is bounded (observability issue: "10,000 requests
 * with random model names create at most 51 `model` label values"): without MODELS, the first
 * METRICS_MAX_MODELS (50) names, then `other`; with MODELS, only those names and `other`; `none`
 * for routes without a model. A real backstop in front of an upstream that answers any model at
 * once, one attempt per request, 256 requests in flight on keep-alive connections.
 */

const IN_FLIGHT = 256;
/** Every family labelled by model (docs/observability.md, Metrics). */
const MODEL_FAMILIES = [
  'backstop_requests_total',
  'backstop_attempts_total',
  'backstop_request_attempts',
  'backstop_request_duration_seconds',
  'backstop_time_to_first_token_seconds',
  'backstop_inflight_requests',
  'backstop_circuit_state',
  'backstop_retry_budget_exhausted_total',
];

/** `count` distinct model names that look random, from a seeded generator (mulberry32). */
function randomNames(count: number, seed: number): string[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0).toString(36);
  };
  // The index keeps them distinct: the point is 10,000 different names.
  return Array.from({ length: count }, (_, i) => `org-${next()}/model-${next()}-${i}`);
}

/** POSTs one completion per name, IN_FLIGHT at a time; resolves with the status of each. */
async function sendAll(dispatcher: Agent, baseUrl: string, names: readonly string[]): Promise<number[]> {
  const statuses: number[] = new Array(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      const res = await request(`${baseUrl}/v1/completions`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: names[i], prompt: `Request ${i}`, max_tokens: 1 }),
        signal: AbortSignal.timeout(10_000),
      });
      await res.body.dump();
      statuses[i] = res.statusCode;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return statuses;
}

describe('model label values are bounded', () => {
  let upstream: AnyModelUpstream;
  let dispatcher: Agent;
  before(async () => {
    upstream = await startAnyModelUpstream();
    dispatcher = new Agent({ connections: IN_FLIGHT, pipelining: 1, allowH2: false });
  });
  after(async () => {
    await dispatcher.close();
    await upstream.close();
  });

  test('10,000 requests with random model names make 51 model label values per family: the first 50 and other', {
    timeout: 60_000,
  }, async () => {
    const backstop = await startBackstop({ UPSTREAM_URL: upstream.url, RETRY_MAX_ATTEMPTS: '1' });
    try {
      const names = randomNames(10_000, 42);
      const statuses = await sendAll(dispatcher, backstop.url, names);
      assert.ok(
        statuses.every((s) => s === 200),
        'every request answered',
      );

      const metrics = await scrapeMetrics(backstop.adminUrl);
      assert.equal(sumOf(metrics, 'backstop_requests_total'), 10_000);
      const values = labelValues(metrics, 'model');
      const sent = new Set(names);
      for (const family of MODEL_FAMILIES) {
        const seen = values.get(family) ?? new Set<string>();
        // Exactly 51: the bound holds, and it is reached (50 names, then everything else as other).
        assert.equal(seen.size, 51, `${family}: ${seen.size} model values`);
        assert.ok(seen.has('other'), family);
        assert.ok(!seen.has('none'), `${family}: no modelless route was called`);
        for (const value of seen) assert.ok(value === 'other' || sent.has(value), `${family}: ${value}`);
      }
      // The first 50 names each had their one request; the other 9,950 went to `other`.
      assert.equal(sumOf(metrics, 'backstop_requests_total', { model: 'other' }), 9_950);
      assert.equal(sumOf(metrics, 'backstop_request_attempts_count', { model: 'other' }), 9_950);
      assert.equal(upstream.requests >= 10_000, true);
      // The gateway pool at rest: its sockets open (up to one per request that was in flight,
      // within UPSTREAM_CONNECTIONS), none running, nothing queued.
      const open = sumOf(metrics, 'backstop_upstream_connections', {
        upstream: 'gateway',
        state: 'connected',
      });
      assert.ok(open >= 1 && open <= IN_FLIGHT, `connected ${open}`);
      assert.equal(
        sumOf(metrics, 'backstop_upstream_connections', { upstream: 'gateway', state: 'free' }),
        open,
      );
      assert.equal(
        sumOf(metrics, 'backstop_upstream_connections', { upstream: 'gateway', state: 'running' }),
        0,
      );
      assert.equal(
        sumOf(metrics, 'backstop_upstream_connections', { upstream: 'gateway', state: 'queued' }),
        0,
      );
    } finally {
      await backstop.stop();
    }
  });

  test('with MODELS set: only those names, other for the rest (refused), none for GET /v1/models', {
    timeout: 60_000,
  }, async () => {
    const allowed = ['microsoft/Phi-3-mini-4k-instruct', 'google/gemma-2b-it'];
    const backstop = await startBackstop({
      UPSTREAM_URL: upstream.url,
      RETRY_MAX_ATTEMPTS: '1',
      MODELS: allowed.join(','),
    });
    try {
      const random = randomNames(2_000, 7);
      const names = random.flatMap((name, i) =>
        i % 10 === 0 ? [name, allowed[(i / 10) % 2] as string] : [name],
      );
      const statuses = await sendAll(dispatcher, backstop.url, names);
      assert.equal(statuses.filter((s) => s === 200).length, 200, 'the allowed models are answered');
      assert.equal(statuses.filter((s) => s === 404).length, 2_000, 'the others are refused');
      const list = await request(`${backstop.url}/v1/models`, { dispatcher });
      await list.body.dump();
      assert.equal(list.statusCode, 200);

      const metrics = await scrapeMetrics(backstop.adminUrl);
      const values = labelValues(metrics, 'model');
      const possible = new Set([...allowed, 'other', 'none']);
      for (const family of MODEL_FAMILIES) {
        for (const value of values.get(family) ?? []) assert.ok(possible.has(value), `${family}: ${value}`);
      }
      assert.deepEqual([...(values.get('backstop_requests_total') ?? [])].sort(), [...possible].sort());
      assert.equal(
        sumOf(metrics, 'backstop_requests_total', { model: 'other', outcome: 'model_not_allowed' }),
        2_000,
      );
      assert.equal(sumOf(metrics, 'backstop_requests_total', { model: 'none' }), 1);
      for (const model of allowed) assert.equal(sumOf(metrics, 'backstop_requests_total', { model }), 100);
    } finally {
      await backstop.stop();
    }
  });

  test('served_model is bounded the same way: 2,000 wrong-model answers naming 2,000 models make 51 values', {
    timeout: 60_000,
  }, async () => {
    // A gateway that answers every request as a model of its own (a misbehaving one: the
    // served names come from the upstream, not from the client).
    let answered = 0;
    const server = createServer((req, res) => {
      req.resume().on('end', () => {
        const model = `served/model-${answered++}`;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'text_completion', created: 1, model, choices: [] }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // One attempt per request: each routing miss ends its request (502); the breaker, which
    // counts such requests, is kept out of it.
    const backstop = await startBackstop({
      UPSTREAM_URL: url,
      RETRY_MAX_MISROUTES: '1',
      BREAKER_FAILURE_THRESHOLD: '1000000',
    });
    try {
      const statuses = await sendAll(dispatcher, backstop.url, Array(2_000).fill('asked/model'));
      assert.deepEqual([...new Set(statuses)], [502]);
      const metrics = await scrapeMetrics(backstop.adminUrl);
      const served = labelValues(metrics, 'served_model').get('backstop_misroutes_total') ?? new Set();
      assert.equal(served.size, 51, `${served.size} served_model values`);
      assert.ok(served.has('other'));
      assert.equal(sumOf(metrics, 'backstop_misroutes_total', { model: 'asked/model' }), 2_000);
      assert.equal(sumOf(metrics, 'backstop_misroutes_total', { served_model: 'other' }), 1_950);
      // Its own bound: the upstream's names did not take the requested model's label.
      assert.deepEqual(
        [...(labelValues(metrics, 'model').get('backstop_requests_total') ?? [])],
        ['asked/model'],
      );
    } finally {
      await backstop.stop();
      server.close();
    }
  });
});
