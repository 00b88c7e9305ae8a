import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import {
  chunk,
  DONE,
  eppUnavailable,
  gate,
  hang,
  json,
  notFound,
  reset,
  ScriptedUpstream,
  type Step,
  sse,
  status,
} from './support/scripted-upstream.ts';
import { type Timed, within } from './support/within.ts';

// One backstop in front of a scripted gateway; each test owns the model names it scripts.
let upstream: ScriptedUpstream;
let backstop: BackstopProcess;
let openai: OpenAI;

before(async () => {
  upstream = await new ScriptedUpstream().listen();
  backstop = await startBackstop({
    UPSTREAM_URL: upstream.url,
    RETRY_MAX_ATTEMPTS: '4',
    RETRY_MAX_MISROUTES: '4',
    RETRY_BASE_DELAY_MS: '1',
    RETRY_MAX_DELAY_MS: '400',
    ATTEMPT_TIMEOUT_MS: '400',
    BREAKER_FAILURE_THRESHOLD: '1000',
    RETRY_BUDGET_MIN_PER_SEC: '1000',
  });
  openai = new OpenAI({ baseURL: `${backstop.url}/v1`, apiKey: 'sk-test-secret-42', maxRetries: 0 });
});

after(async () => {
  await backstop.stop();
  await upstream.close();
});

function chat(model: string, extra: Record<string, unknown> = {}) {
  return openai.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'hi' }], ...extra })
    .withResponse();
}

async function requestLog(reqId: string) {
  return backstop.waitForLog((line) => line.msg === 'request' && line.reqId === reqId);
}

/** Runs a chat request for a model scripted with `steps` and returns the answer and its log line. */
async function scripted(model: string, ...steps: Step[]) {
  upstream.script(model, ...steps);
  const { data, response } = await chat(model);
  const log = await requestLog(response.headers.get('x-request-id') ?? '');
  return { data, response, log };
}

describe('each attempt result', () => {
  test('model_not_found (vLLM nested 404) is retried until the right model answers', async () => {
    const { data, response, log } = await scripted(
      'm-nested',
      notFound('nested'),
      notFound('nested'),
      json(),
    );
    assert.equal(data.model, 'm-nested');
    assert.equal(response.headers.get('x-backstop-attempts'), '3');
    assert.equal(upstream.count('m-nested'), 3);
    assert.deepEqual(log.results, ['model_not_found', 'model_not_found', 'ok']);
  });

  test('model_not_found (older flat 404) is retried too', async () => {
    const { log } = await scripted('m-flat', notFound('flat'), json());
    assert.deepEqual(log.results, ['model_not_found', 'ok']);
  });

  test('model_mismatch: a 200 from the wrong model never reaches the client', async () => {
    const { data, log } = await scripted('m-wrong', json('other-model', 'WRONG'), json(undefined, 'right'));
    assert.equal(data.model, 'm-wrong');
    assert.equal(data.choices[0]?.message.content, 'right');
    assert.deepEqual(log.results, ['model_mismatch', 'ok']);
  });

  test("upstream_5xx: the EPP's text/plain 503 and Envoy's no healthy upstream are retried", async () => {
    const envoy = status(503, 'no healthy upstream', { 'content-type': 'text/plain' });
    const { log } = await scripted('m-5xx', eppUnavailable, envoy, status(502), json());
    assert.deepEqual(log.results, ['upstream_5xx', 'upstream_5xx', 'upstream_5xx', 'ok']);
  });

  test('upstream_5xx: vLLM 500 and a gateway 504 are retried', async () => {
    const { log } = await scripted('m-500', status(500, '{}'), status(504), json());
    assert.deepEqual(log.results, ['upstream_5xx', 'upstream_5xx', 'ok']);
  });

  test('connect_error: a connection reset before the response is retried', async () => {
    const { log } = await scripted('m-reset', reset, json());
    assert.deepEqual(log.results, ['connect_error', 'ok']);
  });

  test('timeout: an upstream that never answers is abandoned after ATTEMPT_TIMEOUT_MS and retried', async () => {
    const { log } = await scripted('m-hang-once', hang, json());
    assert.deepEqual(log.results, ['timeout', 'ok']);
    const first = upstream.seen.find((s) => s.body.includes('m-hang-once'));
    assert.equal(await first?.closed, 'aborted', 'the hung attempt was closed, not leaked');
  });

  test('invalid_response: a 2xx that is not the JSON it claims, or of another type, is retried', async () => {
    const garbage = status(200, '{"model": "m-garbage", "choi');
    const html = status(200, '<html>', { 'content-type': 'text/html' });
    const { log } = await scripted('m-garbage', garbage, html, json());
    assert.deepEqual(log.results, ['invalid_response', 'invalid_response', 'ok']);
  });

  test('client_error: another 4xx goes back to the client as it is, never retried', async () => {
    const body = JSON.stringify({
      error: { message: 'bad temperature', type: 'BadRequestError', param: null, code: 400 },
    });
    upstream.script('m-400', status(400, body, { 'x-upstream-note': 'kept' }));
    const res = await fetch(`${backstop.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-400', messages: [] }),
    });
    assert.equal(res.status, 400);
    assert.equal(await res.text(), body);
    assert.equal(res.headers.get('x-upstream-note'), 'kept');
    assert.equal(res.headers.get('x-backstop-attempts'), '1');
    assert.equal(upstream.count('m-400'), 1);
  });

  test('a 404 that does not name the model is a client error, passed through', async () => {
    const body = '{"detail":"Not Found"}';
    upstream.script('m-404-path', status(404, body));
    const res = await fetch(`${backstop.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm-404-path', prompt: 'x' }),
    });
    assert.equal(res.status, 404);
    assert.equal(await res.text(), body);
    assert.equal(upstream.count('m-404-path'), 1);
  });

  test('rate_limited: a 429 with Retry-After waits at least that long, even past RETRY_MAX_DELAY_MS', async () => {
    upstream.script('m-429', status(429, '{}', { 'retry-after': '1' }), json());
    const started = performance.now();
    const { log } = await scripted('m-429', status(429, '{}', { 'retry-after': '1' }), json());
    const elapsed = performance.now() - started;
    assert.deepEqual(log.results, ['rate_limited', 'ok']);
    // Retry-After 1 s is honoured in full (issue 9: waiting less only earns another 429), though
    // RETRY_MAX_DELAY_MS is 400 and the backoff alone would be about 1 ms.
    assert.ok(elapsed >= 990, `waited ${elapsed} ms`);
  });

  test('rate_limited without Retry-After uses the normal backoff', async () => {
    const started = performance.now();
    const { log } = await scripted('m-429-bare', status(429, '{}'), json());
    assert.deepEqual(log.results, ['rate_limited', 'ok']);
    assert.ok(performance.now() - started < 390);
  });
});

describe('giving up', () => {
  test('502 retries_exhausted names the attempts and the last result', async () => {
    upstream.script('m-never', notFound());
    const error = await chat('m-never').then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 502);
    assert.equal(error.code, 'retries_exhausted');
    assert.match(error.message, /after 4 attempts \(last result: model_not_found\); RETRY_MAX_MISROUTES/);
    assert.equal(error.headers?.get('x-backstop-attempts'), '4');
    assert.equal(upstream.count('m-never'), 4);
  });

  test('504 upstream_timeout when the last attempt timed out', async () => {
    upstream.script('m-hang', hang);
    const error = await chat('m-hang').then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 504);
    assert.equal(error.code, 'upstream_timeout');
    assert.equal(error.type, 'upstream_error');
  });
});

describe('streaming', () => {
  async function stream(model: string, ...steps: Step[]) {
    upstream.script(model, ...steps);
    const { data, response } = await openai.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'hi' }], stream: true })
      .withResponse();
    let text = '';
    const models = new Set<string>();
    for await (const part of data) {
      models.add(part.model);
      text += part.choices[0]?.delta.content ?? '';
    }
    const log = await requestLog(response.headers.get('x-request-id') ?? '');
    return { text, models, response, log };
  }

  test('the first event is verified before anything is sent; a wrong model is retried unseen', async () => {
    const wrong = sse([chunk('intruder', 'WRONG'), chunk('intruder', 'WRONG'), DONE]);
    const right = sse([chunk('s-wrong', 'Hello'), chunk('s-wrong', ' world'), DONE]);
    const { text, models, log } = await stream('s-wrong', wrong, right);
    assert.equal(text, 'Hello world');
    assert.deepEqual([...models], ['s-wrong']);
    assert.deepEqual(log.results, ['model_mismatch', 'ok']);
  });

  test('comment lines, CRLF line ends and an event split byte by byte are handled', async () => {
    const event = chunk('s-quirks', 'Hi').replaceAll('\n', '\r\n');
    const bytes = [': ping\r\n\r\n', ':keepalive\r\n\r\n', ...event.split(''), chunk('s-quirks', '!'), DONE];
    const { text, log } = await stream('s-quirks', sse(bytes));
    assert.equal(text, 'Hi!');
    assert.deepEqual(log.results, ['ok']);
  });

  test('an in-band error event is a failed attempt', async () => {
    const inBand = `data: ${JSON.stringify({ error: { message: 'engine dead', type: 'InternalServerError', code: 500 } })}\n\n`;
    const { text, log } = await stream('s-inband', sse([inBand, DONE]), sse([chunk('s-inband', 'ok'), DONE]));
    assert.equal(text, 'ok');
    assert.deepEqual(log.results, ['upstream_5xx', 'ok']);
  });

  test('an in-band 404 that does not name the model is passed through, as the same 404 as a status is', async () => {
    const error = { error: { message: 'Not Found', type: 'NotFoundError', param: null, code: 404 } };
    const inBand = `data: ${JSON.stringify(error)}\n\n`;
    const retried = sse([chunk('s-404-inband', 'retried'), DONE]);
    upstream.script('s-404-inband', sse([inBand, DONE]), retried);
    upstream.script('s-404-status', status(404, JSON.stringify(error)), retried);
    const send = (model: string) =>
      fetch(`${backstop.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: true }),
      });
    const inBandRes = await send('s-404-inband');
    assert.equal(inBandRes.status, 200, 'the stream as it came');
    assert.equal(await inBandRes.text(), inBand + DONE);
    const statusRes = await send('s-404-status');
    assert.equal(statusRes.status, 404);
    assert.deepEqual(await statusRes.json(), error);
    for (const res of [inBandRes, statusRes]) {
      assert.equal(res.headers.get('x-backstop-attempts'), '1');
      const log = await requestLog(res.headers.get('x-request-id') ?? '');
      assert.deepEqual(log.results, ['client_error']);
      assert.equal(log.outcome, 'client_error');
    }
    assert.equal(upstream.count('s-404-inband'), 1, 'never retried');
    assert.equal(upstream.count('s-404-status'), 1);
  });

  test('a stream that ends before any event is invalid and retried', async () => {
    const { text, log } = await stream('s-empty', sse([': nothing\n\n']), sse([chunk('s-empty', 'x'), DONE]));
    assert.equal(text, 'x');
    assert.deepEqual(log.results, ['invalid_response', 'ok']);
  });

  test('TTFT is logged and the rest of the stream is piped as it comes', async () => {
    const slow = sse([chunk('s-slow', 'a'), chunk('s-slow', 'b'), chunk('s-slow', 'c'), DONE], {
      delayMs: 60,
    });
    const { text, log } = await stream('s-slow', slow);
    assert.equal(text, 'abc');
    assert.ok(typeof log.ttftMs === 'number' && typeof log.durationMs === 'number');
    // Three 60 ms gaps follow the first event: the first byte went out long before the end.
    assert.ok((log.durationMs as number) - (log.ttftMs as number) >= 150, JSON.stringify(log));
  });
});

describe('the client going away', () => {
  // A backstop of its own, whose timers are far above ABORT_BOUND_MS: with the file's 400 ms
  // ATTEMPT_TIMEOUT_MS the attempt timer closed the hung request too, and the first test below
  // passed without backstop's abort listener. Here only that listener can close it in time.
  const ABORT_BOUND_MS = 2000;
  let patient: BackstopProcess;
  let client: OpenAI;

  before(async () => {
    patient = await startBackstop({
      UPSTREAM_URL: upstream.url,
      ATTEMPT_TIMEOUT_MS: '30000',
      RETRY_DEADLINE_MS: '30000',
      STREAM_IDLE_TIMEOUT_MS: '30000',
      BREAKER_FAILURE_THRESHOLD: '1000',
    });
    client = new OpenAI({ baseURL: `${patient.url}/v1`, apiKey: 'sk-test-secret-42', maxRetries: 0 });
  });

  after(async () => {
    await patient.stop();
  });

  test('aborts a pending upstream attempt at once', async () => {
    const held = gate(); // never answered: only the client's abort can end this attempt
    upstream.script('a-pending', held.step);
    const controller = new AbortController();
    const pending = client.chat.completions.create(
      { model: 'a-pending', messages: [{ role: 'user', content: 'x' }] },
      { signal: controller.signal },
    );
    await held.arrived;
    const seen = upstream.seen.find((s) => s.body.includes('a-pending'));
    controller.abort();
    const closed = within(
      seen?.closed ?? Promise.reject(new Error('not seen')),
      ABORT_BOUND_MS,
      'upstream close',
    );
    await assert.rejects(pending);
    const { value, ms } = await closed;
    assert.equal(value, 'aborted');
    process.stdout.write(`# pending attempt closed upstream ${ms.toFixed(1)} ms after the client aborted\n`);
    const log = await patient.waitForLog((l) => l.msg === 'request' && l.model === 'a-pending');
    assert.equal(log.outcome, 'client_closed');
  });

  test('aborts the upstream stream mid-way (the GPU stops generating)', async () => {
    // 1000 events 10 ms apart: without the abort the upstream would write for 10 s, past the bound.
    const forever = Array.from({ length: 1000 }, (_, i) => chunk('a-stream', `t${i}`));
    upstream.script('a-stream', sse(forever, { delayMs: 10 }));
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'a-stream', messages: [{ role: 'user', content: 'x' }], stream: true },
      { signal: controller.signal },
    );
    let received = 0;
    let closed: Promise<Timed<'finished' | 'aborted'>> | undefined;
    const seen = upstream.seen.find((s) => s.body.includes('a-stream'));
    try {
      for await (const _ of stream) {
        received += 1;
        if (received === 3) {
          controller.abort();
          closed = within(
            seen?.closed ?? Promise.reject(new Error('not seen')),
            ABORT_BOUND_MS,
            'upstream close',
          );
        }
      }
    } catch {
      // Depending on timing the SDK ends the iteration or throws its abort error.
    }
    assert.ok(received >= 3 && received < 1000);
    assert.ok(closed, 'aborted after the third event');
    const { value, ms } = await closed;
    assert.equal(value, 'aborted');
    process.stdout.write(`# upstream stream closed ${ms.toFixed(1)} ms after the client aborted\n`);
    const log = await patient.waitForLog((l) => l.msg === 'request' && l.model === 'a-stream');
    assert.equal(log.outcome, 'client_closed');
  });
});

describe('an attempt waiting for a pooled connection', () => {
  let narrow: BackstopProcess;
  let client: OpenAI;

  before(async () => {
    narrow = await startBackstop({
      UPSTREAM_URL: upstream.url,
      UPSTREAM_CONNECTIONS: '1',
      ATTEMPT_TIMEOUT_MS: '150',
      RETRY_MAX_ATTEMPTS: '3',
      RETRY_BASE_DELAY_MS: '1',
      RETRY_MAX_DELAY_MS: '5',
      BREAKER_FAILURE_THRESHOLD: '1000',
      RETRY_BUDGET_MIN_PER_SEC: '1000',
    });
    client = new OpenAI({ baseURL: `${narrow.url}/v1`, apiKey: 'sk-test-secret-42', maxRetries: 0 });
  });

  after(async () => {
    await narrow.stop();
  });

  test('times out in the queue, is taken out of it, and costs no connection', async () => {
    // A verified stream holds the only connection (no attempt timer runs once it is verified):
    // every attempt of a second request waits behind it, and times out in the queue.
    const long = Array.from({ length: 200 }, (_, i) => chunk('q-held', `t${i}`));
    upstream.script('q-held', sse(long, { delayMs: 25 }));
    upstream.script('q-queued', json());
    upstream.script('q-after', json());
    const connectionsBefore = upstream.connectionsAccepted;
    const controller = new AbortController();
    const holder = await client.chat.completions.create(
      { model: 'q-held', messages: [{ role: 'user', content: 'x' }], stream: true },
      { signal: controller.signal },
    );
    const reading = (async () => {
      for await (const _ of holder);
    })().catch(() => {});
    const queued = await client.chat.completions
      .create({ model: 'q-queued', messages: [{ role: 'user', content: 'x' }] })
      .then(
        () => assert.fail('a queued request cannot be answered while the connection is held'),
        (error: { status?: number }) => error,
      );
    assert.equal(queued.status, 504);
    const log = await narrow.waitForLog((l) => l.msg === 'request' && l.model === 'q-queued');
    assert.deepEqual(log.results, ['timeout', 'timeout', 'timeout']);
    controller.abort();
    await reading;
    // The queue is first in, first out: once a later request is answered, the abandoned
    // attempts before it have had their turn, and each was dropped, not sent.
    const after = await client.chat.completions.create({
      model: 'q-after',
      messages: [{ role: 'user', content: 'x' }],
    });
    assert.equal(after.model, 'q-after');
    assert.equal(upstream.count('q-queued'), 0);
    // One connection for the stream, one for the request after it: an attempt abandoned in the
    // queue is taken out of it (undici's queued-abort hook), not given a socket and aborted on it,
    // which destroyed that keep-alive connection (3 more here).
    assert.equal(upstream.connectionsAccepted - connectionsBefore, 2);
  });
});
