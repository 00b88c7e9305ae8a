import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MODELS, startSimulator } from '../src/simulator/index.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { chat, scrape, sum, until } from './support/proxy-client.ts';
import {
  chunk,
  DONE,
  hang,
  json,
  notFound,
  type ScriptedUpstream as Scripted,
  ScriptedUpstream,
  type Step,
  sse,
  status,
} from './support/scripted-upstream.ts';
import { streamChat } from './support/sse-client.ts';
import { within } from './support/within.ts';

// Direct per-model fallback (issue 11, part 2), through real sockets: MODEL_ENDPOINTS names each
// model's own vLLM Service. A request goes there after FALLBACK_AFTER_MISROUTES routing misses,
// when the gateway cannot be reached, or at once while the gateway's breaker for the model is
// open; breakers are per (model, upstream); streams and aborts behave as on the gateway.

const [PHI, GEMMA] = DEFAULT_MODELS.map((m) => m.name) as [string, string];
const running: BackstopProcess[] = [];
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const b of running) await b.stop();
  for (const close of closers) await close();
});

async function backstop(env: Record<string, string>): Promise<BackstopProcess> {
  const b = await startBackstop({ LOG_LEVEL: 'info', ...env });
  running.push(b);
  return b;
}

async function scripted(port = 0): Promise<Scripted> {
  const upstream = await new ScriptedUpstream().listen(port);
  closers.push(() => upstream.close().catch(() => {}));
  return upstream;
}

/** A port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const attemptsOf = (answer: { headers: Headers }) => Number(answer.headers.get('x-backstop-attempts'));

/** The request log lines of `model` so far. */
const requestLines = (b: BackstopProcess, model: string) =>
  b.logs.filter((l) => l.msg === 'request' && l.model === model);

describe('after FALLBACK_AFTER_MISROUTES routing misses', () => {
  test('a model the gateway always misroutes is served by its own endpoint after exactly that many', async () => {
    // The gateway's Phi-3 pod is down: the least-load picker sends every Phi-3 request to the
    // Gemma pod, which answers 404. The direct endpoint is a simulator with flapping off.
    const gateway = await startSimulator({ seed: 3, timeScale: 0, faults: { outage: [PHI] } });
    const direct = await startSimulator({ seed: 4, timeScale: 0, faults: { flapping: false } });
    closers.push(
      () => gateway.close(),
      () => direct.close(),
    );
    const b = await backstop({
      UPSTREAM_URL: gateway.url,
      MODEL_ENDPOINTS: `${PHI}=${direct.url}`,
      FALLBACK_AFTER_MISROUTES: '3',
    });
    const n = 20;
    for (let i = 0; i < n; i++) {
      const answer = await chat(b.url, PHI, { stream: i % 2 === 1 });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(attemptsOf(answer), 4, 'three misses on the gateway, then the direct endpoint');
    }
    assert.equal(gateway.stats().byModel[PHI]?.received, 3 * n);
    assert.equal(gateway.stats().byModel[PHI]?.served ?? 0, 0);
    assert.equal(direct.stats().byModel[PHI]?.received, n);
    // Gemma has no endpoint: it keeps the gateway.
    const gemma = await chat(b.url, GEMMA);
    assert.equal(gemma.status, 200);
    assert.equal(direct.stats().byModel[GEMMA]?.received ?? 0, 0);
    const metrics = await scrape(b.adminUrl);
    assert.equal(
      sum(metrics, 'backstop_attempts_total', { model: PHI, upstream: 'direct', result: 'ok' }),
      n,
    );
    assert.equal(sum(metrics, 'backstop_attempts_total', { model: PHI, upstream: 'gateway' }), 3 * n);
    assert.equal(sum(metrics, 'backstop_circuit_state', { model: PHI }), 0, 'misses do not open the breaker');
    await until(() => requestLines(b, PHI).length === n, 'the request lines');
    assert.deepEqual(requestLines(b, PHI)[0]?.upstreams, ['gateway', 'gateway', 'gateway', 'direct']);
  });

  test('a wrong model from the direct endpoint is a failed attempt there, never the answer', async () => {
    const gateway = await scripted();
    gateway.script(PHI, notFound());
    const direct = await scripted();
    direct.script(PHI, json(GEMMA));
    const b = await backstop({
      UPSTREAM_URL: gateway.url,
      MODEL_ENDPOINTS: `${PHI}=${direct.url}`,
      FALLBACK_AFTER_MISROUTES: '1',
      RETRY_MAX_MISROUTES: '3',
    });
    const answer = await chat(b.url, PHI);
    assert.equal(answer.status, 502, answer.text);
    assert.ok(!answer.text.includes(`"model":"${GEMMA}"`), answer.text);
    // One miss on the gateway, the wrong model direct, then back to the gateway (which was only
    // misrouting), where it misses until RETRY_MAX_MISROUTES.
    assert.equal(direct.count(PHI), 1);
    await until(() => requestLines(b, PHI).length === 1, 'the request line');
    const line = requestLines(b, PHI)[0] as { results: string[]; upstreams: string[] };
    assert.deepEqual(line.upstreams, ['gateway', 'direct', 'gateway', 'gateway']);
    assert.deepEqual(line.results, [
      'model_not_found',
      'model_mismatch',
      'model_not_found',
      'model_not_found',
    ]);
  });
});

describe('while the gateway cannot be reached', () => {
  test('requests go direct at once once the breaker opens, and come back within the cooldown', async () => {
    const port = await closedPort();
    const direct = await scripted();
    direct.script(PHI, json());
    const cooldownMs = 400;
    const b = await backstop({
      UPSTREAM_URL: `http://127.0.0.1:${port}`,
      MODEL_ENDPOINTS: `${PHI}=${direct.url}`,
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_COOLDOWN_MS: String(cooldownMs),
      BREAKER_MAX_COOLDOWN_MS: String(cooldownMs),
    });
    // Each of the first requests meets a refused connection, then goes direct: one failure each.
    for (let i = 0; i < 3; i++) {
      const answer = await chat(b.url, PHI);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(attemptsOf(answer), 2);
    }
    await b.waitForLog((l) => l.msg === 'circuit breaker state changed' && l.state === 'open');
    assert.equal(sum(await scrape(b.adminUrl), 'backstop_circuit_state', { model: PHI }), 2);
    // Open: straight to the direct endpoint, no 503 circuit_open.
    for (let i = 0; i < 10; i++) {
      const answer = await chat(b.url, PHI);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(attemptsOf(answer), 1, 'the open breaker skips the gateway');
    }
    // The gateway comes back on its port: the half-open probe finds it within the cooldown.
    const gateway = await scripted(port);
    gateway.script(PHI, json());
    const back = performance.now();
    let returned = -1;
    while (performance.now() - back < 3 * cooldownMs) {
      const answer = await chat(b.url, PHI);
      assert.equal(answer.status, 200, answer.text);
      if (gateway.count(PHI) > 0) {
        returned = performance.now() - back;
        break;
      }
      await sleep(20); // a client asking at a steady pace while the cooldown runs: time is the point
    }
    assert.ok(returned >= 0, 'traffic returned to the gateway');
    assert.ok(returned <= cooldownMs + 200, `returned after ${returned} ms, cooldown ${cooldownMs} ms`);
    const directBefore = direct.count(PHI);
    for (let i = 0; i < 5; i++) assert.equal((await chat(b.url, PHI)).status, 200);
    assert.equal(direct.count(PHI), directBefore, 'closed again: every request on the gateway');
    assert.equal(sum(await scrape(b.adminUrl), 'backstop_circuit_state', { model: PHI }), 0);
    assert.equal(sum(await scrape(b.adminUrl), 'backstop_requests_total', { outcome: 'circuit_open' }), 0);
  });
});

describe('a dead direct endpoint', () => {
  test("does not open the gateway's breaker, nor fail what the gateway serves", async () => {
    // Phi-3 misses twice, then is served, over and over; its direct endpoint refuses connections.
    const gateway = await scripted();
    let n = 0;
    const missTwice: Step = (req, res, body) => (n++ % 3 < 2 ? notFound() : json())(req, res, body);
    gateway.script(PHI, missTwice);
    const port = await closedPort();
    const b = await backstop({
      UPSTREAM_URL: gateway.url,
      MODEL_ENDPOINTS: `${PHI}=http://127.0.0.1:${port}`,
      FALLBACK_AFTER_MISROUTES: '2',
      RETRY_FAST_MISROUTES: '10',
      BREAKER_FAILURE_THRESHOLD: '3',
    });
    for (let i = 0; i < 8; i++) {
      const answer = await chat(b.url, PHI);
      assert.equal(answer.status, 200, answer.text);
      // Two misses, the dead endpoint, back to the gateway; once the direct breaker is open, 3.
      assert.equal(attemptsOf(answer), i < 3 ? 4 : 3, `request ${i}`);
    }
    await b.waitForLog((l) => l.msg === 'circuit breaker state changed' && l.upstream === 'direct');
    await until(() => requestLines(b, PHI).length === 8, 'the request lines');
    const changes = b.logs.filter((l) => l.msg === 'circuit breaker state changed');
    assert.deepEqual(
      changes.map((l) => [l.upstream, l.state]),
      [['direct', 'open']],
    );
    assert.equal(sum(await scrape(b.adminUrl), 'backstop_circuit_state', { model: PHI }), 0);
  });
});

describe('streams through the direct endpoint', () => {
  test('relay every event, and a client abort aborts the direct upstream request', async () => {
    const gateway = await scripted();
    gateway.script(PHI, notFound());
    const direct = await scripted();
    const events = Array.from({ length: 5 }, (_, i) => chunk(PHI, `t${i}`));
    direct.script(
      PHI,
      sse([...events, DONE]),
      sse(
        Array.from({ length: 200 }, () => chunk(PHI, 'x')),
        { delayMs: 20 },
      ),
      hang,
    );
    const b = await backstop({
      UPSTREAM_URL: gateway.url,
      MODEL_ENDPOINTS: `${PHI}=${direct.url}`,
      FALLBACK_AFTER_MISROUTES: '1',
    });
    const whole = await streamChat(b.url, { model: PHI }).result;
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['x-backstop-attempts'], '2');
    assert.equal(whole.content, 't0t1t2t3t4');
    assert.ok(whole.done);

    // Mid-stream: the client leaves once three events of the 200 have reached it.
    const leaving = new AbortController();
    const res = await fetch(`${b.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: PHI, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: leaving.signal,
    });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let relayed = '';
    while ((relayed.match(/\n\n/g)?.length ?? 0) < 3) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream ended before three events');
      relayed += decoder.decode(value, { stream: true });
    }
    assert.equal(direct.seen.length, 2, 'the second direct request');
    leaving.abort();
    const closed = await direct.seen[1]?.closed;
    assert.equal(closed, 'aborted', 'backstop closed the direct upstream request');
    const line = await b.waitForLog((l) => l.msg === 'request' && l.outcome === 'client_closed');
    assert.deepEqual(line.upstreams, ['gateway', 'direct']);

    // Before the first event too: the attempt on the direct endpoint is cut with the client.
    const early = streamChat(b.url, { model: PHI });
    early.result.catch(() => {});
    await until(() => direct.seen.length === 3, 'the third direct request');
    early.abort();
    // Within a second, not at RETRY_DEADLINE_MS (25 s), when the attempt timer would cut it.
    const cut = await within(
      direct.seen[2]?.closed ?? Promise.reject(new Error('not seen')),
      1000,
      'the hung direct request closed with the client',
    );
    assert.equal(cut.value, 'aborted', 'backstop closed the hung direct request with the client');
  });
});

describe('the direct endpoint is the gateway to the client', () => {
  test('same path under its own base, same headers, a 4xx passed through as it came', async () => {
    const gateway = await scripted();
    gateway.script(PHI, notFound());
    const direct = await scripted();
    const refusal = JSON.stringify({
      error: { message: 'bad max_tokens', type: 'BadRequestError', code: 400 },
    });
    direct.script(PHI, json(), status(400, refusal));
    const b = await backstop({
      UPSTREAM_URL: `${gateway.url}/gw`,
      MODEL_ENDPOINTS: `${PHI}=${direct.url}/vllm/`,
      FALLBACK_AFTER_MISROUTES: '1',
    });
    const headers = {
      'content-type': 'application/json',
      'x-request-id': 'req-direct-1',
      authorization: 'Bearer k',
    };
    const ok = await chat(b.url, PHI, {}, { headers });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('x-request-id'), 'req-direct-1');
    assert.equal(gateway.seen[0]?.url, '/gw/v1/chat/completions');
    const seen = direct.seen[0];
    assert.equal(seen?.url, '/vllm/v1/chat/completions');
    assert.equal(seen?.headers['x-request-id'], 'req-direct-1');
    assert.equal(seen?.headers.authorization, 'Bearer k');
    assert.equal(seen?.headers['x-gateway-model-name'], PHI);
    assert.equal(seen?.headers.host, new URL(direct.url).host);
    assert.equal(seen?.body, gateway.seen[0]?.body, 'the same request bytes');

    const refused = await chat(b.url, PHI, {}, { headers });
    assert.equal(refused.status, 400);
    assert.equal(refused.text, refusal);
    assert.equal(attemptsOf(refused), 2);
  });

  test('SIGTERM drains a stream in flight on the direct endpoint', async () => {
    const gateway = await scripted();
    gateway.script(PHI, notFound());
    const direct = await scripted();
    const events = Array.from({ length: 20 }, (_, i) => chunk(PHI, `${i},`));
    direct.script(PHI, sse([...events, DONE], { delayMs: 30 }));
    const b = await backstop({
      UPSTREAM_URL: gateway.url,
      MODEL_ENDPOINTS: `${PHI}=${direct.url}`,
      FALLBACK_AFTER_MISROUTES: '1',
    });
    const handle = streamChat(b.url, { model: PHI });
    await handle.headers;
    const exit = b.stop('SIGTERM');
    const result = await handle.result;
    assert.equal(result.ending, 'end');
    assert.ok(result.done);
    assert.equal(result.content, events.map((_, i) => `${i},`).join(''));
    assert.equal(await exit, 0);
  });
});
