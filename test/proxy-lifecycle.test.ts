import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import type { ProxyObserver } from '../src/events.ts';
import { createUpstreamPool } from '../src/proxy/index.ts';
import { ModelPolicies, RouteBudgets, systemClock } from '../src/resilience/index.ts';
import { createProxyHandler } from '../src/server.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { chat, scrape, sum, until } from './support/proxy-client.ts';
import { eppUnavailable, type Gate, gate, ScriptedUpstream } from './support/scripted-upstream.ts';

/**
 * Issue 10, defect 6: a request ends in one place, and a client that left before its answer went
 * out is recorded 499 `client_closed`, whatever the answer would have been. The client here
 * pipelines: its second request is answered at once (breaker open, retries exhausted, bad JSON),
 * but that answer waits behind the first one's, which the gateway holds; then the client leaves.
 * It never got the second answer, so the record must not say it did.
 */

/** A raw HTTP/1.1 request for a chat completion (or any body) with a chosen request id. */
function rawRequest(id: string, body: string): string {
  return (
    'POST /v1/chat/completions HTTP/1.1\r\nhost: backstop\r\ncontent-type: application/json\r\n' +
    `x-request-id: ${id}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const chatBody = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('a client that leaves before its answer goes out is logged 499 client_closed', () => {
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;
  let held: Gate;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    backstop = await startBackstop({
      UPSTREAM_URL: upstream.url,
      BREAKER_FAILURE_THRESHOLD: '1',
      BREAKER_COOLDOWN_MS: '600000',
      BREAKER_MAX_COOLDOWN_MS: '600000',
      RETRY_MAX_ATTEMPTS: '1',
    });
  });

  after(async () => {
    const code = await backstop.stop();
    await upstream.close();
    // After the cleanup: a failed assertion must not leave a server open and the file running.
    assert.equal(code, 0);
  });

  const requestLog = (id: string) => backstop.waitForLog((l) => l.msg === 'request' && l.reqId === id);

  /**
   * Sends a held request and then `second` on one connection, waits until backstop has dealt with
   * `second` (`handled`), leaves, and returns both log lines.
   */
  async function pipelined(name: string, second: string, handled: () => Promise<boolean>) {
    held = gate();
    upstream.script(`${name}-held`, held.step);
    const socket: Socket = connect(Number(new URL(backstop.url).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => {});
    socket.write(rawRequest(`${name}-1`, chatBody(`${name}-held`)) + second);
    await held.arrived;
    await until(handled, `backstop to answer ${name}-2`);
    socket.destroy();
    return { first: await requestLog(`${name}-1`), second: await requestLog(`${name}-2`) };
  }

  test('refused by an open breaker', async () => {
    upstream.script('p-open', eppUnavailable);
    assert.equal((await chat(backstop.url, 'p-open')).code, 'retries_exhausted');
    assert.equal((await chat(backstop.url, 'p-open')).code, 'circuit_open', 'the breaker is open');
    const count = async () => {
      const metrics = await scrape(backstop.adminUrl);
      return (
        sum(metrics, 'backstop_inflight_requests', { model: 'p-open' }) +
        sum(metrics, 'backstop_requests_total', { model: 'p-open', outcome: 'circuit_open' })
      );
    };
    const before = await count();
    const { first, second } = await pipelined(
      'p-circuit',
      rawRequest('p-circuit-2', chatBody('p-open')),
      async () => {
        return (await count()) > before;
      },
    );
    assert.equal(first.status, 499);
    assert.equal(second.status, 499, JSON.stringify(second));
    assert.equal(second.outcome, 'client_closed');
    assert.equal(upstream.count('p-open'), 1, 'refused without going upstream');
  });

  test('after its attempts failed (failed())', async () => {
    upstream.script('p-failing', eppUnavailable);
    const { second } = await pipelined(
      'p-failed',
      rawRequest('p-failed-2', chatBody('p-failing')),
      async () => {
        const metrics = await scrape(backstop.adminUrl);
        // The attempt is judged, and the request given up, in the same tick.
        return sum(metrics, 'backstop_attempts_total', { model: 'p-failing', result: 'upstream_5xx' }) === 1;
      },
    );
    assert.equal(second.status, 499, JSON.stringify(second));
    assert.equal(second.outcome, 'client_closed');
    assert.deepEqual(second.results, ['upstream_5xx']);
  });

  test('refused before forwarding (a body that is not JSON)', async () => {
    const count = async () => {
      const metrics = await scrape(backstop.adminUrl);
      return (
        sum(metrics, 'backstop_inflight_requests') +
        sum(metrics, 'backstop_requests_total', { outcome: 'bad_request' })
      );
    };
    const before = await count();
    const { second } = await pipelined('p-refused', rawRequest('p-refused-2', '{"model": "x",'), async () => {
      // The held request is in flight too: one more than that.
      return (await count()) > before + 1;
    });
    assert.equal(second.status, 499, JSON.stringify(second));
    assert.equal(second.outcome, 'client_closed');
  });
});

describe('an error that escapes the handler', () => {
  test('is logged with the request id, and the 500 carries it', async () => {
    const upstream = await new ScriptedUpstream().listen();
    const config = loadConfig({ UPSTREAM_URL: upstream.url });
    const pool = createUpstreamPool(config);
    const logged: [unknown, string][] = [];
    // A bug in a part the handler calls outside the attempt loop (here an observer).
    const buggy: ProxyObserver = {
      requestStarted() {
        throw new Error('observer bug');
      },
      attemptEnded() {},
      requestEnded() {},
      breakerChanged() {},
      budgetExhausted() {},
    };
    const budget = { ratio: 2, minPerSec: 10 };
    const handler = createProxyHandler({
      config,
      dispatcher: pool,
      policies: new ModelPolicies({
        breaker: { failureThreshold: 5, cooldownMs: 1000, maxCooldownMs: 1000 },
        budget,
        misrouteBudget: budget,
        maxModels: 10,
        clock: systemClock,
        random: Math.random,
      }),
      routeBudgets: new RouteBudgets({ budget, clock: systemClock }),
      observer: buggy,
      random: Math.random,
      backoff: { baseDelayMs: 1, maxDelayMs: 1 },
      misrouteBackoff: { fastRetries: 0, fastDelayMs: 0, baseDelayMs: 1, maxDelayMs: 1 },
      now: () => performance.now(),
      onUnexpectedError: (error, reqId) => logged.push([error, reqId]),
    });
    const server = createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'escaped-1' },
        body: 'not json',
      });
      assert.equal(res.status, 500);
      assert.equal(logged.length, 1);
      const [error, reqId] = logged[0] ?? [];
      assert.equal((error as Error).message, 'observer bug');
      assert.equal(reqId, 'escaped-1', 'the real request id, not an empty one');
      assert.equal(res.headers.get('x-request-id'), 'escaped-1');
    } finally {
      server.close();
      await pool.close();
      await upstream.close();
    }
  });
});
