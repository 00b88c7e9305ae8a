import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, request } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_MODELS,
  expectedContent,
  type SimStats,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../src/simulator/index.ts';

const PHI = 'microsoft/Phi-3-mini-4k-instruct';
const GEMMA = 'google/gemma-2b-it';
// 100x faster than a T4: a Phi-3 answer takes ~18 ms.
const FAST = 0.01;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** How many separate body chunks the client received. */
  chunks: number;
  /** Set when the connection failed after the response head (a mid-body reset). */
  error?: NodeJS.ErrnoException;
}

interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Called with each body chunk; return true to destroy the request (a client abort). */
  onChunk?: (chunk: string) => boolean;
}

/** One request on a fresh connection, without keep-alive reuse, so faults on one never leak into another. */
function call(sim: Simulator, path: string, body?: unknown, options: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(`${sim.url}${path}`, {
      method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
      agent: false,
      headers: { 'content-type': 'application/json', ...options.headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const reply: Reply = { status: res.statusCode ?? 0, headers: res.headers, body: '', chunks: 0 };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        reply.body += chunk;
        reply.chunks++;
        if (options.onChunk?.(chunk)) {
          req.destroy();
          resolve(reply);
        }
      });
      res.on('error', (error) => resolve({ ...reply, error }));
      res.on('end', () => resolve(reply));
    });
    req.end(payload);
  });
}

const completion = (model: string, prompt: string, extra: object = {}) => ({
  model,
  prompt,
  max_tokens: 15,
  ...extra,
});
const chat = (model: string, content: string, extra: object = {}) => ({
  model,
  messages: [{ role: 'user', content }],
  max_tokens: 15,
  ...extra,
});

/** The data payloads of an SSE body; tolerant of CRLF and comment lines, as a correct client must be. */
function ssePayloads(body: string): string[] {
  return body
    .replaceAll('\r\n', '\n')
    .split('\n\n')
    .flatMap((event) => event.split('\n').filter((line) => line.startsWith('data: ')))
    .map((line) => line.slice('data: '.length));
}

/** Polls the simulator's counters until `ready` holds: the server's side of a close is not observable otherwise. */
async function waitFor(sim: Simulator, ready: (stats: SimStats) => boolean, what: string): Promise<SimStats> {
  for (let i = 0; i < 400; i++) {
    const stats = sim.stats();
    if (ready(stats)) return stats;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(sim.stats().outcomes)}`);
}

async function withSim(options: SimulatorOptions, body: (sim: Simulator) => Promise<void>): Promise<void> {
  const sim = await startSimulator(options);
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

const STEADY = { timeScale: FAST, faults: { flapping: false } } satisfies SimulatorOptions;

test('JSON completions carry the model, the expected content and the report-sized usage', () =>
  withSim(STEADY, async (sim) => {
    for (const [model, total] of [
      [PHI, 48],
      [GEMMA, 40],
    ] as const) {
      const reply = await call(sim, '/v1/completions', completion(model, 'Request 17'));
      assert.equal(reply.status, 200);
      assert.match(String(reply.headers['content-type']), /^application\/json/);
      const body = JSON.parse(reply.body);
      assert.equal(body.model, model);
      assert.equal(body.object, 'text_completion');
      assert.equal(body.choices[0].text, expectedContent(model, 'Request 17', 15));
      assert.equal(body.usage.total_tokens, total);
    }
    const reply = await call(sim, '/v1/chat/completions', {
      model: GEMMA,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    const body = JSON.parse(reply.body);
    assert.equal(body.object, 'chat.completion');
    assert.equal(
      body.choices[0].message.content,
      expectedContent(GEMMA, 'Be brief.\nHi', 16),
      'default max_tokens 16',
    );
    assert.equal(body.usage.completion_tokens, 16);
  }));

test('chat SSE: headers at once, role chunk first, expected content, usage chunk, [DONE] last', () =>
  withSim(STEADY, async (sim) => {
    const reply = await call(
      sim,
      '/v1/chat/completions',
      chat(PHI, 'Hello', { stream: true, stream_options: { include_usage: true } }),
    );
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/event-stream/);
    const payloads = ssePayloads(reply.body);
    assert.equal(payloads.at(-1), '[DONE]');
    const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p));
    assert.ok(chunks.every((c) => c.model === PHI && c.object === 'chat.completion.chunk'));
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(content, expectedContent(PHI, 'Hello', 15));
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
    assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 32, completion_tokens: 15, total_tokens: 47 });
    assert.ok(reply.chunks > 1, 'tokens arrive in separate chunks');
    const stats = sim.stats();
    assert.equal(stats.streamsStarted, 1);
    assert.equal(stats.streamsCompleted, 1);
  }));

test('completion SSE without include_usage has no usage chunk', () =>
  withSim(STEADY, async (sim) => {
    const reply = await call(
      sim,
      '/v1/completions',
      completion(GEMMA, 'Hi', { stream: true, max_tokens: 4 }),
    );
    const chunks = ssePayloads(reply.body)
      .slice(0, -1)
      .map((p) => JSON.parse(p));
    assert.equal(chunks.length, 4);
    assert.ok(chunks.every((c) => c.usage === undefined && c.object === 'text_completion'));
    assert.equal(chunks.map((c) => c.choices[0].text).join(''), expectedContent(GEMMA, 'Hi', 4));
  }));

test("vLLM's 400s (context length, bad JSON, no model) and 404s (unknown model, unknown path)", () =>
  withSim(STEADY, async (sim) => {
    const long = 'x'.repeat(8080); // 2020 tokens + 30 overhead + 15 > 2048 on Phi-3, fine on Gemma
    const tooLong = await call(sim, '/v1/chat/completions', chat(PHI, long));
    assert.equal(tooLong.status, 400);
    assert.deepEqual(JSON.parse(tooLong.body), {
      error: {
        message:
          "This model's maximum context length is 2048 tokens. However, you requested 2065 tokens (2050 in the messages, 15 in the completion). Please reduce the length of the messages or completion.",
        type: 'BadRequestError',
        param: null,
        code: 400,
      },
    });
    assert.equal((await call(sim, '/v1/chat/completions', chat(GEMMA, long))).status, 200);
    const badJson = await call(sim, '/v1/completions', '{"model":');
    assert.equal(badJson.status, 400);
    assert.equal(JSON.parse(badJson.body).error.type, 'BadRequestError');
    assert.equal((await call(sim, '/v1/completions', { prompt: 'x' })).status, 400);
    const unknown = await call(sim, '/v1/completions', completion('no/such-model', 'x'));
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body).error.message, 'The model `no/such-model` does not exist.');
    assert.equal((await call(sim, '/v1/embeddings', {})).status, 404);
    const stats = sim.stats();
    assert.equal(stats.outcomes.bad_request, 3);
    assert.equal(stats.outcomes.unknown_model, 1);
    assert.equal(stats.outcomes.not_found, 1);
    assert.equal(stats.received, 6);
  }));

test('GET /v1/models lists the served models; GET /health answers 200', () =>
  withSim(STEADY, async (sim) => {
    const list = JSON.parse((await call(sim, '/v1/models')).body);
    assert.deepEqual(
      list.data.map((m: { id: string; max_model_len: number }) => [m.id, m.max_model_len]),
      [
        [PHI, 2048],
        [GEMMA, 4096],
      ],
    );
    assert.equal((await call(sim, '/health')).status, 200);
    assert.equal(sim.stats().received, 1, '/health is not a /v1 request');
  }));

/**
 * The report's client loop, one request at a time: 200 requests per model, each retried until the right model
 * answers; checks the 40-60% first-try success and ~2 attempts of the report, and every failed
 * answer's shape. Returns how many of each failure shape it saw.
 */
async function seedLoop(sim: Simulator): Promise<{ nested: number; flat: number; epp503: number }> {
  const shapes = { nested: 0, flat: 0, epp503: 0 };
  for (const model of [PHI, GEMMA]) {
    let firstTry = 0;
    let attempts = 0;
    const n = 200;
    for (let i = 0; i < n; i++) {
      for (let attempt = 1; ; attempt++) {
        assert.ok(attempt <= 30, 'a retrying client gets through');
        const reply = await call(sim, '/v1/completions', completion(model, `Request ${i}`));
        if (reply.status === 200 && JSON.parse(reply.body).model === model) {
          if (attempt === 1) firstTry++;
          attempts += attempt;
          break;
        }
        if (reply.status === 503) {
          assert.equal(
            reply.body,
            'inference error: ServiceUnavailable - failed to find candidate pods for serving the request',
          );
          assert.match(String(reply.headers['content-type']), /^text\/plain/);
          shapes.epp503++;
        } else {
          assert.equal(reply.status, 404);
          const body = JSON.parse(reply.body);
          if (body.error) shapes.nested++;
          else if (body.object === 'error') shapes.flat++;
          assert.equal(body.error?.message ?? body.message, `The model \`${model}\` does not exist.`);
        }
      }
    }
    assert.ok(firstTry / n >= 0.4 && firstTry / n <= 0.6, `${model}: first-try ${firstTry}/${n}`);
    assert.ok(attempts / n >= 1.7 && attempts / n <= 2.5, `${model}: mean attempts ${attempts / n}`);
  }
  return shapes;
}

test('default picker (least load, blind to model): 40-60% first-try success per model, 100% with retries at ~2 attempts', () =>
  withSim({ timeScale: 0 }, async (sim) => {
    const shapes = await seedLoop(sim);
    // Both pods are ready and idle between sequential requests: every pick is a tie, never a 503.
    assert.ok(shapes.nested > 20 && shapes.flat > 20 && shapes.epp503 === 0, JSON.stringify(shapes));
    const stats = sim.stats();
    assert.equal(stats.outcomes.served, 400);
    assert.equal(stats.outcomes.misrouted_404, shapes.nested + shapes.flat);
    assert.equal(stats.outcomes.no_backend_503, shapes.epp503);
    // Each pod was picked about as often for its own model as for the other one.
    for (const pod of [PHI, GEMMA]) {
      const p = stats.pods[pod];
      assert.ok(
        p && p.picks > 0 && p.misroutes / p.picks > 0.35 && p.misroutes / p.picks < 0.65,
        JSON.stringify(p),
      );
    }
    assert.equal((stats.pods[PHI]?.picks ?? 0) + (stats.pods[GEMMA]?.picks ?? 0), stats.received);
    const phi = stats.byModel[PHI];
    assert.equal(phi?.received, (phi?.served ?? 0) + (phi?.misrouted404 ?? 0) + (phi?.noBackend503 ?? 0));
  }));

test("discovery picker (the report's flapping guess): 40-60% first-try success, ~2 attempts, 404s and EPP 503s", () =>
  withSim({ timeScale: 0, faults: { picker: 'discovery' } }, async (sim) => {
    const shapes = await seedLoop(sim);
    assert.ok(shapes.nested > 20 && shapes.flat > 20 && shapes.epp503 > 20, JSON.stringify(shapes));
    const stats = sim.stats();
    assert.equal(stats.outcomes.served, 400);
    assert.equal(stats.outcomes.misrouted_404, shapes.nested + shapes.flat);
    assert.equal(stats.outcomes.no_backend_503, shapes.epp503);
    const phi = stats.byModel[PHI];
    assert.equal(phi?.received, (phi?.served ?? 0) + (phi?.misrouted404 ?? 0) + (phi?.noBackend503 ?? 0));
  }));

test('the same seed and request order reproduce the same outcomes; another seed does not', async () => {
  const run = async (seed: number) => {
    const statuses: number[] = [];
    await withSim({ timeScale: 0, seed }, async (sim) => {
      for (let i = 0; i < 60; i++)
        statuses.push((await call(sim, '/v1/completions', completion(i % 2 ? PHI : GEMMA, 'x'))).status);
    });
    return statuses.join();
  };
  assert.equal(await run(7), await run(7));
  assert.notEqual(await run(7), await run(8));
});

test('reseed restarts the per-request streams: the same draws again, whatever came before', () =>
  withSim({ timeScale: 0, faults: { flapping: false, rateLimit: 0.5 } }, async (sim) => {
    // Which requests draw the 429 fault is the faults stream's sequence: it shows the draws.
    const run = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++)
        statuses.push((await call(sim, '/v1/completions', completion(PHI, 'x'))).status);
      return statuses.join();
    };
    sim.reseed(3);
    const first = await run();
    const unseeded = await run();
    sim.reseed(3);
    assert.equal(await run(), first);
    assert.notEqual(unseeded, first, 'without a reseed the stream goes on');
    assert.match(first, /429/);
    assert.match(first, /200/);
  }));

test('misroute wrong-model-200: a 200 whose model and content are the other model', () =>
  withSim(
    {
      timeScale: 0,
      faults: { picker: 'discovery', visibility: { [PHI]: 0, [GEMMA]: 1 }, misroute: 'wrong-model-200' },
    },
    async (sim) => {
      const reply = await call(sim, '/v1/completions', completion(PHI, 'Request 3'));
      assert.equal(reply.status, 200);
      const body = JSON.parse(reply.body);
      assert.equal(body.model, GEMMA);
      assert.equal(body.choices[0].text, expectedContent(GEMMA, 'Request 3', 15));
      assert.equal(sim.stats().outcomes.wrong_model_200, 1);
      assert.equal(sim.stats().byModel[PHI]?.wrongModel200, 1);
    },
  ));

test('an outage: that model is never served, the other always is; both down is the EPP 503', () =>
  withSim({ timeScale: 0, faults: { outage: [GEMMA] } }, async (sim) => {
    // One pool: the picker's only candidate is the other model's pod, which answers 404.
    for (let i = 0; i < 20; i++) {
      assert.equal((await call(sim, '/v1/completions', completion(GEMMA, `r${i}`))).status, 404);
      assert.equal((await call(sim, '/v1/completions', completion(PHI, `r${i}`))).status, 200);
    }
    // One pool per model (flapping off): Gemma's pool has no ready pod, so the EPP answers 503.
    sim.setFaults({ flapping: false });
    assert.equal((await call(sim, '/v1/completions', completion(GEMMA, 'x'))).status, 503);
    sim.setFaults({ flapping: true, outage: [GEMMA, PHI] });
    assert.equal((await call(sim, '/v1/completions', completion(PHI, 'x'))).status, 503);
    assert.deepEqual(JSON.parse((await call(sim, '/v1/models')).body).data, []);
  }));

test('fault reset: the socket is destroyed before any response byte', () =>
  withSim({ ...STEADY, faults: { flapping: false, reset: { [GEMMA]: 1 } } }, async (sim) => {
    await assert.rejects(call(sim, '/v1/completions', completion(GEMMA, 'x')), { code: 'ECONNRESET' });
    assert.equal(
      (await call(sim, '/v1/completions', completion(PHI, 'x'))).status,
      200,
      'restricted to Gemma',
    );
    const stats = sim.stats();
    assert.equal(stats.outcomes.reset, 1);
    assert.equal(stats.byModel[GEMMA]?.faults.reset, 1);
    assert.equal(stats.clientAborts, 0, 'our own reset is not a client abort');
  }));

test('fault resetMidStream: the first SSE event or half the JSON body, then a reset', () =>
  withSim({ ...STEADY, faults: { flapping: false, resetMidStream: 1 } }, async (sim) => {
    const stream = await call(sim, '/v1/completions', completion(PHI, 'x', { stream: true }));
    assert.equal(stream.status, 200);
    assert.equal(stream.error?.code, 'ECONNRESET');
    assert.equal(ssePayloads(stream.body).length, 1);
    assert.equal(JSON.parse(ssePayloads(stream.body)[0] ?? '').model, PHI);
    const json = await call(sim, '/v1/completions', completion(PHI, 'x'));
    assert.equal(json.status, 200);
    assert.equal(json.error?.code, 'ECONNRESET');
    assert.ok(json.body.length > 0 && json.body.length < Number(json.headers['content-length']));
    assert.equal(sim.stats().outcomes.reset_mid_stream, 2);
  }));

test('fault hang: no byte until the client gives up; the abort is counted', () =>
  withSim({ ...STEADY, faults: { flapping: false, hang: 1 } }, async (sim) => {
    let responded = false;
    const controller = new AbortController();
    const req = request(`${sim.url}/v1/completions`, {
      method: 'POST',
      agent: false,
      signal: controller.signal,
    });
    req.on('response', () => {
      responded = true;
    });
    const failed = new Promise((resolve) => req.on('error', resolve));
    req.end(JSON.stringify(completion(PHI, 'x')));
    await waitFor(sim, (s) => s.outcomes.hang === 1, 'the hang');
    await sleep(60); // three times a normal Phi-3 answer at this time scale
    assert.equal(responded, false);
    assert.equal(sim.stats().inflight, 1);
    controller.abort();
    await failed;
    const stats = await waitFor(sim, (s) => s.clientAborts === 1, 'the abort');
    assert.equal(stats.inflight, 0);
    assert.equal(stats.byModel[PHI]?.clientAborts, 1);
  }));

test('fault rateLimit: 429 with Retry-After, and without it when retryAfterSeconds is null', () =>
  withSim({ ...STEADY, faults: { rateLimit: 1, retryAfterSeconds: 3 } }, async (sim) => {
    const limited = await call(sim, '/v1/completions', completion(PHI, 'x'));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '3');
    assert.equal(JSON.parse(limited.body).error.code, 429);
    sim.setFaults({ retryAfterSeconds: null });
    const bare = await call(sim, '/v1/completions', completion(PHI, 'x'));
    assert.equal(bare.status, 429);
    assert.equal(bare.headers['retry-after'], undefined);
    assert.equal(sim.stats().outcomes.rate_limited, 2);
  }));

test('fault garbageJson: a 200 application/json that starts right and does not parse', () =>
  withSim({ ...STEADY, faults: { garbageJson: 1 } }, async (sim) => {
    const reply = await call(sim, '/v1/completions', completion(PHI, 'x'));
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^application\/json/);
    assert.ok(reply.body.includes(`"model":"${PHI}"`));
    assert.throws(() => JSON.parse(reply.body), SyntaxError);
    assert.equal(
      (await call(sim, '/v1/completions', completion(PHI, 'x', { stream: true }))).status,
      200,
      'not for streams',
    );
    assert.equal(sim.stats().outcomes.garbage_json, 1);
  }));

test('fault truncatedSse: the stream ends cleanly but without [DONE], in the middle of an event', () =>
  withSim({ ...STEADY, faults: { truncatedSse: 1 } }, async (sim) => {
    const reply = await call(sim, '/v1/chat/completions', chat(PHI, 'x', { stream: true }));
    assert.equal(reply.status, 200);
    assert.equal(reply.error, undefined);
    assert.ok(!reply.body.includes('[DONE]'));
    assert.ok(!reply.body.endsWith('\n\n'), 'cut inside an event');
    const last = ssePayloads(reply.body).at(-1) ?? '';
    assert.throws(() => JSON.parse(last), SyntaxError);
    assert.equal(sim.stats().outcomes.truncated_sse, 1);
  }));

test('fault oversizedJson: a valid body of exactly oversizedBytes with the right model (default 32 MiB)', () =>
  withSim({ ...STEADY, faults: { oversizedJson: 1 } }, async (sim) => {
    const big = await call(sim, '/v1/completions', completion(GEMMA, 'x'));
    assert.equal(big.status, 200);
    assert.equal(Number(big.headers['content-length']), 32 * 1024 * 1024);
    assert.equal(Buffer.byteLength(big.body), 32 * 1024 * 1024);
    assert.equal(JSON.parse(big.body).model, GEMMA);
    sim.setFaults({ oversizedBytes: 100_000 });
    const chatBody = await call(sim, '/v1/chat/completions', chat(GEMMA, 'x'));
    assert.equal(Buffer.byteLength(chatBody.body), 100_000);
    assert.equal(JSON.parse(chatBody.body).choices[0].message.content.length > 90_000, true);
  }));

test('fault inBandError: an SSE 200 whose first data event is an error', () =>
  withSim({ ...STEADY, faults: { inBandError: 1 } }, async (sim) => {
    const reply = await call(sim, '/v1/chat/completions', chat(GEMMA, 'x', { stream: true }));
    assert.equal(reply.status, 200);
    const first = JSON.parse(ssePayloads(reply.body)[0] ?? '');
    assert.equal(first.error.code, 500);
    assert.equal(first.choices, undefined);
    assert.equal(sim.stats().outcomes.in_band_error, 1);
  }));

test("fault noHealthyUpstream: Envoy's text/plain 503", () =>
  withSim({ ...STEADY, faults: { noHealthyUpstream: 1 } }, async (sim) => {
    const reply = await call(sim, '/v1/completions', completion(GEMMA, 'x'));
    assert.equal(reply.status, 503);
    assert.match(String(reply.headers['content-type']), /^text\/plain/);
    assert.equal(reply.body, 'no healthy upstream');
  }));

test('sseQuirks: a ping comment, CRLF line ends and a first event one byte per write', () =>
  withSim({ ...STEADY, faults: { flapping: false, sseQuirks: true } }, async (sim) => {
    const reply = await call(
      sim,
      '/v1/chat/completions',
      chat(PHI, 'Hello', { stream: true, max_tokens: 3 }),
    );
    assert.ok(reply.body.startsWith(': ping\r\n\r\ndata: {'));
    assert.ok(!/[^\r]\n/.test(reply.body), 'every line ends with CRLF');
    const firstEvent = reply.body.indexOf('\r\n\r\n', 12) + 4;
    assert.ok(reply.chunks >= firstEvent - 12, `${reply.chunks} chunks for a ${firstEvent}-byte head`);
    const payloads = ssePayloads(reply.body);
    assert.equal(payloads.at(-1), '[DONE]');
    const content = payloads
      .slice(0, -1)
      .map((p) => JSON.parse(p).choices[0].delta.content)
      .join('');
    assert.equal(content, expectedContent(PHI, 'Hello', 3));
  }));

test('a client abort mid-stream stops generation at once and is counted', () =>
  withSim(
    { timeScale: 1, latency: { ttftMs: 0, tpotMs: 30, tokens: 200 }, faults: { flapping: false } },
    async (sim) => {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const baseline = timers();
      let pending = 0;
      const reply = await call(sim, '/v1/completions', completion(PHI, 'x', { stream: true }), {
        onChunk: (chunk) => {
          pending = timers();
          return chunk.includes('data: ');
        },
      });
      assert.equal(reply.status, 200);
      assert.ok(pending > baseline, 'a token timer was pending while streaming');
      const stats = await waitFor(sim, (s) => s.clientAborts === 1, 'the abort');
      assert.equal(stats.outcomes.client_abort, 1);
      assert.equal(stats.outcomes.served, 0);
      assert.equal(stats.streamsStarted, 1);
      assert.equal(stats.streamsCompleted, 0);
      assert.equal(stats.inflight, 0);
      assert.equal(timers(), baseline, 'the token timer was cleared');
    },
  ));

test('fixed latency: headers at once, first token at ttft, then tpot apart (scaled)', () =>
  withSim(
    { timeScale: 0.5, latency: { ttftMs: 120, tpotMs: 40, tokens: 4 }, faults: { flapping: false } },
    async (sim) => {
      const start = performance.now();
      const times: number[] = [];
      let head = 0;
      await new Promise<void>((resolve, reject) => {
        const req = request(`${sim.url}/v1/completions`, { method: 'POST', agent: false });
        req.on('error', reject);
        req.on('response', (res) => {
          head = performance.now() - start;
          res.on('data', () => times.push(performance.now() - start));
          res.on('end', resolve);
        });
        req.end(JSON.stringify(completion(PHI, 'x', { stream: true })));
      });
      assert.ok(head < 50, `headers after ${head} ms`);
      assert.ok((times[0] ?? 0) >= 55, `first token after ${times[0]} ms (60 expected)`);
      assert.ok((times.at(-1) ?? 0) >= 115, `last token after ${times.at(-1)} ms (120 expected)`);
      const json = performance.now();
      const reply = await call(sim, '/v1/completions', completion(PHI, 'x'));
      const elapsed = performance.now() - json;
      assert.equal(JSON.parse(reply.body).usage.completion_tokens, 4);
      assert.ok(elapsed >= 115 && elapsed < 400, `non-streaming after ${elapsed} ms (120 expected)`);
    },
  ));

test('/sim/stats, /sim/faults and /sim/reset over HTTP; recent requests keep header evidence', () =>
  withSim(STEADY, async (sim) => {
    await call(sim, '/v1/completions', completion(PHI, 'x'), {
      headers: { 'x-request-id': 'req-1', authorization: 'Bearer secret' },
    });
    const stats = JSON.parse((await call(sim, '/sim/stats')).body) as SimStats;
    assert.equal(stats.received, 1);
    assert.deepEqual(stats, sim.stats());
    const seen = stats.recent.at(-1);
    assert.equal(seen?.requestId, 'req-1');
    assert.equal(seen?.authorization, true);
    assert.equal(seen?.host, `127.0.0.1:${sim.port}`);
    assert.equal(seen?.model, PHI);
    assert.ok(!JSON.stringify(stats).includes('secret'));

    const patched = await call(sim, '/sim/faults', { noHealthyUpstream: { [GEMMA]: 1 } });
    assert.equal(patched.status, 200);
    assert.deepEqual(JSON.parse(patched.body).noHealthyUpstream, { [GEMMA]: 1 });
    assert.equal((await call(sim, '/v1/completions', completion(GEMMA, 'x'))).status, 503);
    assert.equal((await call(sim, '/v1/completions', completion(PHI, 'x'))).status, 200);
    const invalid = await call(sim, '/sim/faults', { hang: 5 });
    assert.equal(invalid.status, 400);
    assert.match(JSON.parse(invalid.body).error.message, /"hang"/);
    assert.equal(JSON.parse((await call(sim, '/sim/faults')).body).hang, 0, 'a bad patch changes nothing');

    assert.equal((await call(sim, '/sim/reset', '', { method: 'POST' })).status, 204);
    const reset = sim.stats();
    assert.equal(reset.received, 0);
    assert.equal(reset.outcomes.served, 0);
    assert.deepEqual(reset.recent, []);
  }));

test('close() resolves with a hung request in flight and resets its connection', async () => {
  const sim = await startSimulator({ timeScale: FAST, faults: { hang: 1 } });
  const pending = call(sim, '/v1/completions', completion(PHI, 'x'));
  await waitFor(sim, (s) => s.outcomes.hang === 1, 'the hang');
  await sim.close();
  await assert.rejects(pending, (error: NodeJS.ErrnoException) => error.code === 'ECONNRESET');
});

test('the default models are the two of the report', () => {
  assert.deepEqual(
    DEFAULT_MODELS.map((m) => [m.name, m.contextLength]),
    [
      [PHI, 2048],
      [GEMMA, 4096],
    ],
  );
});
