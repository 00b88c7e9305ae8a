import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { freePort } from '../bench/processes/free-port.ts';
import {
  DEFAULT_MODELS,
  expectedContent,
  FAULT_NAMES,
  type FaultName,
  type SimFaults,
  type Simulator,
  startSimulator,
} from '../src/simulator/index.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { type Answer, chat, inflight, scrape, sum } from './support/proxy-client.ts';
import {
  chunk,
  hang,
  json,
  reset,
  ScriptedUpstream,
  type Step,
  status,
} from './support/scripted-upstream.ts';
import { streamChat } from './support/sse-client.ts';

// Hostile gateways, hand-made and simulated. Every request must end (never past
// RETRY_DEADLINE_MS + ATTEMPT_TIMEOUT_MS: no attempt starts after the deadline, and one that started
// before it is bounded by its own timeout), backstop must stay up, and no request may stay counted
// in `backstop_inflight_requests`.

const ATTEMPT_TIMEOUT = 300;
const DEADLINE = 2000;
const BOUND = DEADLINE + ATTEMPT_TIMEOUT + 500;

async function assertHealthy(backstop: BackstopProcess): Promise<void> {
  assert.equal(backstop.child.exitCode, null, 'backstop is still running');
  assert.equal(backstop.child.signalCode, null);
  assert.equal(await inflight(backstop.adminUrl), 0, 'no request left counted in flight');
}

/**
 * A describe block's end: checks backstop while it runs, then stops it and closes its upstream
 * whatever the check threw (a failed one must not leave a server open and the file running).
 * Resolves backstop's exit code.
 */
async function checkAndStop(
  backstop: BackstopProcess,
  closeUpstream: () => Promise<void>,
): Promise<number | null> {
  let code: number | null;
  try {
    await assertHealthy(backstop);
  } finally {
    code = await backstop.stop();
    await closeUpstream();
  }
  return code;
}

// Hostile answers beyond scripted-upstream's basic steps.
const resetMidJson: Step = (req, res, body) => {
  const text = JSON.stringify({ id: 'x', object: 'chat.completion', model: body?.model, choices: [] });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
  res.write(text.slice(0, text.length >> 1), () => req.socket.destroy());
};
const notHttp: Step = (req) => {
  req.socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\nthis is not http\r\n');
};
const contentLengthLie: Step = (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
  res.write('{"model":', () => req.socket.end());
};
const drip: Step = (_req, res, body) => {
  const text = JSON.stringify({ id: 'x', object: 'chat.completion', model: body?.model, choices: [] });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i >= text.length) return clearInterval(timer);
    res.write(text[i++]);
  }, 50);
};
/** A valid JSON completion padded to `bytes`, written as fast as the socket takes it. */
const oversizedJson =
  (bytes: number): Step =>
  (_req, res, body) => {
    const head = `{"id":"x","object":"chat.completion","model":${JSON.stringify(body?.model)},"pad":"`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': head.length + bytes + 2 });
    res.write(head);
    const pad = Buffer.alloc(64 * 1024, 'a');
    let left = bytes;
    const pump = () => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(left, pad.length);
        left -= n;
        if (!res.write(pad.subarray(0, n))) return;
      }
      if (left === 0) res.end('"}');
    };
    res.on('drain', pump);
    pump();
  };
const endlessFirstEvent: Step = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const piece = `data: {"pad":"${'a'.repeat(16 * 1024)}`;
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    res.write(piece);
  }, 1);
};
/** An SSE stream that sends its first events, then does `then` to the connection. */
const streamThen =
  (then: 'reset' | 'truncate' | 'silence'): Step =>
  (req, res, body) => {
    const model = String(body?.model);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk(model, 'Hello'));
    res.write(chunk(model, ' there'), () => {
      if (then === 'reset') req.socket.destroy();
      else if (then === 'truncate') res.end('data: {"id":"c1","object":"chat.compl'); // clean FIN mid-event
    });
  };

describe('hand-made hostile upstreams', () => {
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;
  let openai: OpenAI;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    backstop = await startBackstop({
      UPSTREAM_URL: upstream.url,
      RETRY_MAX_ATTEMPTS: '3',
      RETRY_BASE_DELAY_MS: '1',
      RETRY_MAX_DELAY_MS: '20',
      ATTEMPT_TIMEOUT_MS: String(ATTEMPT_TIMEOUT),
      RETRY_DEADLINE_MS: String(DEADLINE),
      STREAM_IDLE_TIMEOUT_MS: String(ATTEMPT_TIMEOUT),
      MAX_RESPONSE_BYTES: '65536',
      BREAKER_FAILURE_THRESHOLD: '1000',
      RETRY_BUDGET_MIN_PER_SEC: '1000',
    });
    openai = new OpenAI({ baseURL: `${backstop.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  });

  after(async () => {
    assert.equal(await checkAndStop(backstop, () => upstream.close()), 0);
  });

  /** Sends one chat request for `model` scripted with `steps`; returns the answer and its log line. */
  async function hostile(
    model: string,
    ...steps: Step[]
  ): Promise<{ answer: Answer; log: Record<string, unknown> }> {
    upstream.script(model, ...steps);
    const answer = await chat(backstop.url, model);
    assert.ok(answer.ms < BOUND, `${model}: answered in ${answer.ms.toFixed(0)} ms`);
    const id = answer.headers.get('x-request-id');
    const log = await backstop.waitForLog((l) => l.msg === 'request' && l.reqId === id);
    return { answer, log };
  }

  test('refused: every attempt fails to connect, the client gets 502 quickly', async () => {
    const other = await startBackstop({
      UPSTREAM_URL: `http://127.0.0.1:${await freePort()}`,
      RETRY_MAX_ATTEMPTS: '3',
      RETRY_BASE_DELAY_MS: '1',
      RETRY_MAX_DELAY_MS: '20',
    });
    try {
      const answer = await chat(other.url, 'm');
      assert.equal(answer.status, 502);
      assert.equal(answer.code, 'retries_exhausted');
      assert.match(answer.text, /after 3 attempts \(last result: connect_error\)/);
      // Quick means no timer was waited for: the nearest is RETRY_DEADLINE_MS (25 s by default),
      // then ATTEMPT_TIMEOUT_MS (60 s), while three refusals and two backoffs of <= 20 ms take a
      // few ms. 3 s is far from both, whatever the machine's load.
      assert.ok(answer.ms < 3000, `${answer.ms.toFixed(0)} ms: a refusal waited for a timer`);
      await assertHealthy(other);
    } finally {
      await other.stop();
    }
  });

  test('reset before headers, every time: 502 after the attempts', async () => {
    const { answer, log } = await hostile('h-reset', reset);
    assert.equal(answer.code, 'retries_exhausted');
    assert.deepEqual(log.results, ['connect_error', 'connect_error', 'connect_error']);
  });

  test('reset in the middle of a JSON body, bytes that are not HTTP, a Content-Length that lies: each retried', async () => {
    for (const [model, step] of [
      ['h-reset-body', resetMidJson],
      ['h-not-http', notHttp],
      ['h-short-body', contentLengthLie],
    ] as const) {
      const { answer, log } = await hostile(model, step, json());
      assert.equal(answer.status, 200, model);
      assert.equal((log.results as string[]).length, 2, model);
      assert.ok(
        ['connect_error', 'invalid_response'].includes((log.results as string[])[0] as string),
        model,
      );
    }
  });

  test('garbage JSON every time: 502 invalid_response', async () => {
    const { answer, log } = await hostile('h-garbage', status(200, '{"model":"h-garbage","choices":[{"ind'));
    assert.equal(answer.status, 502);
    assert.deepEqual(log.results, ['invalid_response', 'invalid_response', 'invalid_response']);
  });

  test('hang, and a body dripped a byte every 50 ms: each attempt ends at ATTEMPT_TIMEOUT_MS, then 504', async () => {
    for (const [model, step] of [
      ['h-hang', hang],
      ['h-drip', drip],
    ] as const) {
      const { answer, log } = await hostile(model, step);
      assert.equal(answer.status, 504, model);
      assert.equal(answer.code, 'upstream_timeout');
      assert.deepEqual(log.results, ['timeout', 'timeout', 'timeout'], model);
      // Three attempts, each ended by its own ATTEMPT_TIMEOUT_MS timer: never sooner (a timer does
      // not fire early), and well before RETRY_DEADLINE_MS (2000 ms, 1100 ms of slack for load):
      // three attempts that outlive their timer, or have none but the deadline's, reach it.
      assert.ok(answer.ms >= 3 * ATTEMPT_TIMEOUT - 10, `${answer.ms.toFixed(0)} ms: an attempt ended early`);
      assert.ok(
        answer.ms < DEADLINE,
        `${answer.ms.toFixed(0)} ms: the deadline, not the attempt timer, ended it`,
      );
      for (const seen of upstream.seen.filter((s) => s.body.includes(model))) {
        assert.equal(await seen.closed, 'aborted', 'each timed-out attempt was closed, not leaked');
      }
    }
  });

  test('an oversized JSON body and an endless first SSE event are dropped at MAX_RESPONSE_BYTES, then retried', async () => {
    // 256 MiB: far more than socket buffers hold, so reading it all would show as 'finished'.
    const big = await hostile('h-big', oversizedJson(256 * 1024 * 1024), json());
    assert.equal(big.answer.status, 200);
    assert.deepEqual(big.log.results, ['invalid_response', 'ok']);
    const endless = await hostile('h-endless', endlessFirstEvent, json());
    assert.equal(endless.answer.status, 200);
    assert.deepEqual(endless.log.results, ['invalid_response', 'ok']);
    for (const model of ['h-big', 'h-endless']) {
      const first = upstream.seen.find((s) => s.body.includes(model));
      assert.equal(
        await first?.closed,
        'aborted',
        `${model}: backstop stopped reading instead of buffering it all`,
      );
    }
  });

  test('a JSON body that declares more than MAX_RESPONSE_BYTES is refused on its header, not read', async () => {
    // It declares 1 MiB (MAX_RESPONSE_BYTES is 64 KiB here), sends 1 KiB and stalls.
    const declared: Step = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024) });
      res.write(`{"model":"h-declared","pad":"${'x'.repeat(1024)}`);
    };
    const r = await hostile('h-declared', declared, json());
    assert.equal(r.answer.status, 200);
    // Read, it would have been a `timeout` (the body never comes): judged on its header instead.
    assert.deepEqual(r.log.results, ['invalid_response', 'ok']);
  });

  describe('mid-stream failures: an SSE error event (OpenAI shape) and no [DONE]', () => {
    const cases = [
      ['reset', 'The upstream connection failed in the middle of the stream.'],
      ['truncate', 'The upstream ended the stream before it was complete.'],
      ['silence', 'The upstream connection failed in the middle of the stream.'],
    ] as const;
    for (const [then, message] of cases) {
      test(`upstream ${then === 'silence' ? 'goes silent (STREAM_IDLE_TIMEOUT_MS)' : then === 'reset' ? 'resets' : 'ends cleanly mid-event'} after the first bytes`, async () => {
        const model = `h-stream-${then}`;
        upstream.script(model, streamThen(then));
        const started = performance.now();
        const s = streamChat(backstop.url, { model });
        const r = await s.result;
        const ms = performance.now() - started;
        assert.equal(r.status, 200);
        assert.equal(r.content, 'Hello there', 'the tokens sent before the failure arrive');
        assert.equal(r.done, false, 'no [DONE]');
        assert.equal(r.ending, 'end', 'the event is delivered and the response ends properly');
        assert.deepEqual(r.errors, [
          { message, type: 'upstream_error', param: null, code: 'stream_interrupted' },
        ]);
        assert.match(
          r.raw,
          /\n\ndata: \{"error":\{[^\n]*\}\}\n\n$/,
          'the error is its own, last, complete event',
        );
        if (then === 'silence') assert.ok(ms >= ATTEMPT_TIMEOUT - 10 && ms < BOUND, `${ms} ms`);
        const log = await backstop.waitForLog((l) => l.msg === 'request' && l.model === model);
        assert.equal(log.outcome, 'stream_error');
        assert.deepEqual(log.results, ['ok'], 'committed at the first event: no retry after the first byte');
      });
    }

    test('the openai SDK surfaces it as an error, not as a finished stream', async () => {
      upstream.script('h-stream-sdk', streamThen('reset'));
      const stream = await openai.chat.completions.create({
        model: 'h-stream-sdk',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      let text = '';
      const error = await (async () => {
        for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal(text, 'Hello there');
      assert.ok(error instanceof OpenAI.APIError, `got ${String(error)}`);
      assert.match(error.message, /middle of the stream/);
    });

    test('each counts as its own outcome', async () => {
      const metrics = await scrape(backstop.adminUrl);
      assert.equal(sum(metrics, 'backstop_requests_total', { outcome: 'stream_error' }), 4);
    });
  });
});

describe('simulator fault modes, one at a time (half the requests hit)', () => {
  const models = DEFAULT_MODELS.map((m) => m.name);
  const PER_KIND = 8;
  let sim: Simulator;
  let backstop: BackstopProcess;
  const report: string[] = [];
  const off = Object.fromEntries(FAULT_NAMES.map((f) => [f, 0])) as Record<FaultName, number>;
  // Faults that reach the client after its first byte (only on streams): the stream ends with the error event.
  const midStream: readonly FaultName[] = ['resetMidStream', 'truncatedSse'];

  before(async () => {
    sim = await startSimulator({
      seed: 7,
      timeScale: 0.01,
      faults: { flapping: false, oversizedBytes: 2 * 1024 * 1024, retryAfterSeconds: 1 },
    });
    backstop = await startBackstop({
      UPSTREAM_URL: sim.url,
      RETRY_BASE_DELAY_MS: '1',
      RETRY_MAX_DELAY_MS: '20',
      ATTEMPT_TIMEOUT_MS: String(ATTEMPT_TIMEOUT),
      RETRY_DEADLINE_MS: String(DEADLINE),
      STREAM_IDLE_TIMEOUT_MS: String(ATTEMPT_TIMEOUT),
      MAX_RESPONSE_BYTES: String(1024 * 1024),
      BREAKER_FAILURE_THRESHOLD: '1000',
      RETRY_BUDGET_MIN_PER_SEC: '1000',
    });
  });

  after(async () => {
    const code = await checkAndStop(backstop, () => sim.close());
    process.stdout.write(`# simulator faults\n${report.map((l) => `#   ${l}`).join('\n')}\n`);
    assert.equal(code, 0);
  });

  const variants: [string, Partial<SimFaults>][] = [
    // rateLimit with Retry-After 0: a Retry-After is now honoured in full, and the longer ones
    // (passed to the client when they outlast the deadline) have their own tests.
    ...FAULT_NAMES.map((f): [string, Partial<SimFaults>] => [
      f,
      { [f]: f === 'hang' ? 0.3 : 0.5, ...(f === 'rateLimit' ? { retryAfterSeconds: 0 } : {}) },
    ]),
    ['rateLimit without Retry-After', { rateLimit: 0.5, retryAfterSeconds: null }],
  ];
  for (const [name, faults] of variants) {
    test(name, async () => {
      sim.setFaults({ ...off, retryAfterSeconds: 1, ...faults });
      sim.resetStats();
      let streamErrors = 0;
      // One request at a time: the seeded draws then fall the same way on every run.
      for (let i = 0; i < PER_KIND; i++) {
        const model = models[i % models.length] as string;
        const expected = expectedContent(model, 'hi', 4);
        const answer = await chat(backstop.url, model);
        assert.ok(answer.ms < BOUND, `${answer.ms} ms`);
        assert.equal(answer.status, 200, `${name}: ${answer.text.slice(0, 200)}`);
        const body = JSON.parse(answer.text) as {
          model: string;
          choices: { message: { content: string } }[];
        };
        assert.equal(body.model, model);
        assert.equal(body.choices[0]?.message.content, expected);

        const started = performance.now();
        const r = await streamChat(backstop.url, { model, max_tokens: 4 }).result;
        assert.ok(performance.now() - started < BOUND);
        assert.equal(r.status, 200);
        if (r.errors.length > 0) {
          streamErrors += 1;
          assert.ok(
            midStream.includes(name as FaultName),
            `${name}: a fault before the first byte leaked: ${r.raw}`,
          );
          assert.equal(r.done, false);
          assert.deepEqual(
            r.errors.map((e) => e.code),
            ['stream_interrupted'],
          );
          assert.ok(expected.startsWith(r.content), 'what did arrive is the start of the right answer');
        } else {
          assert.equal(r.done, true);
          assert.equal(r.content, expected);
        }
      }
      const stats = sim.stats();
      const injected = Object.values(stats.byModel).reduce(
        (n, m) => n + Object.values(m.faults).reduce((a, b) => a + (b ?? 0), 0),
        0,
      );
      assert.ok(injected > 0, `${name} was injected at least once`);
      if (name === 'resetMidStream' || name === 'truncatedSse') {
        // Every one drawn on a stream reached the client (it passed verification at its first event).
        assert.equal(streamErrors, name === 'truncatedSse' ? stats.outcomes.truncated_sse : streamErrors);
        assert.ok(streamErrors > 0);
      }
      report.push(
        `${name}: ${injected} injected over ${stats.received} upstream requests for ${2 * PER_KIND} client requests; ` +
          `${2 * PER_KIND - streamErrors} answered whole, ${streamErrors} streams ended with stream_interrupted`,
      );
    });
  }
});
