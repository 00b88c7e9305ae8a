import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { DEFAULT_MODELS, type Simulator, startSimulator } from '../src/simulator/index.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import {
  OtlpReceiver,
  type ReceivedSpan,
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
} from './support/otlp-receiver.ts';
import { json, notFound, ScriptedUpstream } from './support/scripted-upstream.ts';

// Issue 12, point 4: one SERVER span per request, one CLIENT span per attempt as its child, the
// GenAI attributes, TTFT as an event, and W3C trace context continued from the client and sent
// upstream per attempt. Everything goes through real sockets to a real OTLP/HTTP receiver.

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
/** Reports every module of a package or of the repository the process loads, as a JSON line on stdout. */
const REPORT_LOADS = fileURLToPath(new URL('./support/report-module-loads.ts', import.meta.url));

const tracingEnv = (receiver: OtlpReceiver): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_TRACES_SAMPLER: 'always_on',
  OTEL_SERVICE_NAME: 'backstop-under-test',
  // Export at once, so the test awaits the receiver instead of a 5 s batch timer.
  OTEL_BSP_SCHEDULE_DELAY: '20',
  NODE_OPTIONS: `--import=${REPORT_LOADS}`,
});

/**
 * The SDK anchors each span's start on Date.now() (millisecond resolution) and its end on the
 * monotonic clock, so two spans' times compare only to within about a millisecond.
 */
const CLOCK_SLACK_NS = 2_000_000n;

function childrenOf(spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return spans
    .filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId)
    .sort((a, b) => Number(a.attributes['backstop.attempt']) - Number(b.attributes['backstop.attempt']));
}

describe('a request that took 3 attempts', () => {
  let receiver: OtlpReceiver;
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;
  let server: ReceivedSpan;
  let attempts: ReceivedSpan[];
  let answer: OpenAI.Chat.Completions.ChatCompletion;

  before(async () => {
    receiver = await new OtlpReceiver().listen();
    upstream = await new ScriptedUpstream().listen();
    // The picker's two classic misses, then the right pod: a vLLM 404, a wrong model's 200, a 200.
    upstream.script('phi-3', notFound(), json('gemma-2b'), json('phi-3'));
    backstop = await startBackstop({ UPSTREAM_URL: upstream.url, ...tracingEnv(receiver) });
    const openai = new OpenAI({
      baseURL: `${backstop.url}/v1`,
      apiKey: 'sk-test',
      maxRetries: 0,
      defaultHeaders: { traceparent: TRACEPARENT },
    });
    answer = await openai.chat.completions.create({
      model: 'phi-3',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const spans = await receiver.until((all) => all.filter((s) => s.traceId === CLIENT_TRACE).length >= 4);
    const traced = spans.filter((s) => s.traceId === CLIENT_TRACE);
    server = traced.find((s) => s.kind === SPAN_KIND_SERVER) as ReceivedSpan;
    assert.ok(server, 'a SERVER span in the client trace');
    attempts = childrenOf(traced, server);
  });

  after(async () => {
    await backstop.stop();
    await upstream.close();
    await receiver.close();
  });

  test('the answer is the right model, after 3 attempts', () => {
    assert.equal(answer.model, 'phi-3');
    assert.equal(upstream.count('phi-3'), 3);
  });

  test("the SERVER span continues the client's trace and describes the request", () => {
    assert.equal(server.parentSpanId, CLIENT_SPAN);
    assert.equal(server.name, 'POST /v1/chat/completions');
    assert.equal(server.resource['service.name'], 'backstop-under-test');
    assert.equal(typeof server.resource['service.version'], 'string');
    const a = server.attributes;
    assert.equal(a['http.request.method'], 'POST');
    assert.equal(a['http.route'], '/v1/chat/completions');
    assert.equal(a['url.path'], '/v1/chat/completions');
    assert.equal(a['http.response.status_code'], 200);
    assert.equal(a['gen_ai.operation.name'], 'chat');
    assert.equal(a['gen_ai.request.model'], 'phi-3');
    assert.equal(a['backstop.attempts'], 3);
    assert.equal(a['backstop.outcome'], 'ok');
    assert.equal(typeof a['backstop.request_id'], 'string');
    assert.equal(a['error.type'], undefined);
    assert.notEqual(server.statusCode, 2);
  });

  test('TTFT is an event on the SERVER span, within it', () => {
    const events = server.events.filter((e) => e.name === 'backstop.first_byte');
    assert.equal(events.length, 1);
    const at = (events[0] as { timeUnixNano: bigint }).timeUnixNano;
    assert.ok(
      at + CLOCK_SLACK_NS >= server.startTimeUnixNano && at <= server.endTimeUnixNano + CLOCK_SLACK_NS,
    );
    assert.equal(typeof server.attributes['backstop.ttft_ms'], 'number');
  });

  test('one CLIENT span per attempt, children of the SERVER span, in order', () => {
    assert.equal(attempts.length, 3);
    assert.deepEqual(
      attempts.map((s) => s.attributes['backstop.attempt']),
      [1, 2, 3],
    );
    for (const span of attempts) {
      assert.equal(span.kind, SPAN_KIND_CLIENT);
      assert.equal(span.name, 'chat phi-3');
      assert.ok(span.startTimeUnixNano + CLOCK_SLACK_NS >= server.startTimeUnixNano);
      assert.ok(span.endTimeUnixNano <= server.endTimeUnixNano + CLOCK_SLACK_NS);
      const a = span.attributes;
      assert.equal(a['gen_ai.operation.name'], 'chat');
      assert.equal(a['gen_ai.request.model'], 'phi-3');
      assert.equal(a['server.address'], '127.0.0.1');
      assert.equal(a['server.port'], Number(new URL(upstream.url).port));
      assert.equal(a['http.request.method'], 'POST');
      assert.equal(a['backstop.upstream'], 'gateway');
      assert.equal(typeof a['backstop.backoff_ms'], 'number');
    }
    // Each attempt starts after the one before it ended: they are sequential, not overlapping.
    for (let i = 1; i < attempts.length; i++) {
      const [before, span] = [attempts[i - 1] as ReceivedSpan, attempts[i] as ReceivedSpan];
      assert.ok(span.startTimeUnixNano + CLOCK_SLACK_NS >= before.endTimeUnixNano);
    }
  });

  test('each attempt says how it ended: error.type is the attempt result', () => {
    const [first, second, third] = attempts as [ReceivedSpan, ReceivedSpan, ReceivedSpan];
    assert.equal(first.attributes['error.type'], 'model_not_found');
    assert.equal(first.attributes['http.response.status_code'], 404);
    assert.equal(first.attributes['gen_ai.response.model'], undefined);
    assert.equal(first.statusCode, 2);
    assert.equal(first.attributes['backstop.backoff_ms'], 0);

    assert.equal(second.attributes['error.type'], 'model_mismatch');
    assert.equal(second.attributes['http.response.status_code'], 200);
    assert.equal(second.attributes['gen_ai.response.model'], 'gemma-2b');
    assert.equal(second.statusCode, 2);

    assert.equal(third.attributes['error.type'], undefined);
    assert.equal(third.attributes['http.response.status_code'], 200);
    assert.equal(third.statusCode, 0);
    assert.equal(third.attributes['gen_ai.response.model'], 'phi-3');
    assert.equal(third.attributes['gen_ai.response.id'], 'cmpl-1');
    assert.deepEqual(third.attributes['gen_ai.response.finish_reasons'], ['stop']);
    assert.equal(third.attributes['gen_ai.usage.input_tokens'], 3);
    assert.equal(third.attributes['gen_ai.usage.output_tokens'], 1);
  });

  test('each attempt went upstream with its own span as traceparent', () => {
    const sent = upstream.seen.map((s) => s.headers.traceparent);
    assert.deepEqual(
      sent,
      attempts.map((s) => `00-${CLIENT_TRACE}-${s.spanId}-01`),
    );
  });

  test('tracing on loads the OpenTelemetry SDK', () => {
    assert.ok(backstop.logs.some((l) => l.msg === 'module loaded' && String(l.url).includes('sdk-trace')));
    assert.ok(backstop.logs.some((l) => l.msg === 'listening' && l.tracing === true));
  });
});

describe('what a span holds that the client or the upstream chose', () => {
  let receiver: OtlpReceiver;
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;

  before(async () => {
    receiver = await new OtlpReceiver().listen();
    upstream = await new ScriptedUpstream().listen();
    // A hostile upstream: a 100 KiB response id, and 100 choices.
    upstream.script('long-id', (_req, res, body) => {
      const choices = Array.from({ length: 100 }, (_, index) => ({
        index,
        text: 'x',
        finish_reason: 'stop',
      }));
      const answer = JSON.stringify({ id: 'i'.repeat(100 * 1024), model: body?.model, choices });
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
    backstop = await startBackstop({ UPSTREAM_URL: upstream.url, ...tracingEnv(receiver) });
  });

  after(async () => {
    await backstop.stop();
    await upstream.close();
    await receiver.close();
  });

  const serverSpanOf = async (id: string | null) => {
    const spans = await receiver.until((all) =>
      all.some((s) => s.kind === SPAN_KIND_SERVER && s.attributes['backstop.request_id'] === id),
    );
    return spans.find((s) => s.attributes['backstop.request_id'] === id) as ReceivedSpan;
  };

  test('a request refused before it goes upstream still names its route', async () => {
    const res = await fetch(`${backstop.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": 5}',
    });
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    const server = await serverSpanOf(res.headers.get('x-request-id'));
    assert.equal(server.name, 'POST /v1/chat/completions');
    assert.equal(server.attributes['http.route'], '/v1/chat/completions');
    assert.equal(server.attributes['backstop.outcome'], 'bad_request');
    assert.equal(server.attributes['backstop.attempts'], 0);
  });

  test("an upstream's long values are cut: attribute values at 512 characters, 16 finish reasons", async () => {
    const res = await fetch(`${backstop.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": "long-id", "prompt": "hi"}',
    });
    assert.equal(res.status, 200);
    assert.equal(
      ((await res.json()) as { id: string }).id.length,
      100 * 1024,
      'the client gets the answer whole',
    );
    const server = await serverSpanOf(res.headers.get('x-request-id'));
    const spans = await receiver.until((all) => childrenOf(all, server).length === 1);
    const attempt = childrenOf(spans, server)[0] as ReceivedSpan;
    assert.equal(String(attempt.attributes['gen_ai.response.id']).length, 512);
    assert.equal((attempt.attributes['gen_ai.response.finish_reasons'] as string[]).length, 16);
  });
});

describe('a stream through the simulator', () => {
  let receiver: OtlpReceiver;
  let sim: Simulator;
  let backstop: BackstopProcess;
  const model = (DEFAULT_MODELS[1] as { name: string }).name;

  before(async () => {
    receiver = await new OtlpReceiver().listen();
    sim = await startSimulator({ seed: 7, timeScale: 0.002 });
    backstop = await startBackstop({ UPSTREAM_URL: sim.url, ...tracingEnv(receiver) });
  });

  after(async () => {
    await backstop.stop();
    await sim.close();
    await receiver.close();
  });

  test('the SERVER span holds the stream; the committed attempt lasts until its end', async () => {
    const openai = new OpenAI({ baseURL: `${backstop.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const { data, response } = await openai.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'stream me' }], max_tokens: 15, stream: true })
      .withResponse();
    let chunks = 0;
    for await (const part of data) {
      assert.equal(part.model, model);
      chunks++;
    }
    assert.ok(chunks > 1);
    const id = response.headers.get('x-request-id');
    const tried = Number(response.headers.get('x-backstop-attempts'));
    const find = (all: ReceivedSpan[]) =>
      all.find((s) => s.kind === SPAN_KIND_SERVER && s.attributes['backstop.request_id'] === id);
    const spans = await receiver.until((all) => {
      const root = find(all);
      return root !== undefined && childrenOf(all, root).length === tried;
    });
    const server = find(spans) as ReceivedSpan;
    assert.equal(server.parentSpanId, '', 'no client traceparent: a root span');
    assert.equal(server.attributes['gen_ai.request.model'], model);
    assert.equal(server.attributes['backstop.outcome'], 'ok');
    assert.equal(server.attributes['backstop.attempts'], tried);
    const firstByte = server.events.find((e) => e.name === 'backstop.first_byte');
    assert.ok(firstByte, 'a first_byte event');

    const attempts = childrenOf(spans, server);
    const committed = attempts.at(-1) as ReceivedSpan;
    assert.equal(committed.attributes['error.type'], undefined);
    assert.equal(committed.attributes['gen_ai.response.model'], model);
    assert.match(String(committed.attributes['gen_ai.response.id']), /./);
    assert.equal(committed.attributes['http.response.status_code'], 200);
    // The committed attempt covers the stream, not only its first event.
    assert.ok(committed.endTimeUnixNano > firstByte.timeUnixNano);
    for (const failed of attempts.slice(0, -1)) {
      assert.ok(
        ['model_not_found', 'model_mismatch', 'upstream_5xx'].includes(
          String(failed.attributes['error.type']),
        ),
      );
    }
  });
});

describe('tracing off', () => {
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    upstream.script('phi-3', notFound(), json('phi-3'));
    backstop = await startBackstop({
      UPSTREAM_URL: upstream.url,
      NODE_OPTIONS: `--import=${REPORT_LOADS}`,
    });
  });

  after(async () => {
    await backstop.stop();
    await upstream.close();
  });

  test("never loads the SDK, and passes the client's traceparent through untouched", async () => {
    const res = await fetch(`${backstop.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: TRACEPARENT, tracestate: 'k=v' },
      body: JSON.stringify({ model: 'phi-3', messages: [] }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.deepEqual(
      upstream.seen.map((s) => [s.headers.traceparent, s.headers.tracestate]),
      [
        [TRACEPARENT, 'k=v'],
        [TRACEPARENT, 'k=v'],
      ],
    );
    assert.ok(backstop.logs.some((l) => l.msg === 'listening' && l.tracing === false));
    assert.ok(
      backstop.logs.some((l) => l.msg === 'module loaded'),
      'the load reporter ran',
    );
    assert.deepEqual(
      backstop.logs.filter(
        (l) => l.msg === 'module loaded' && /@opentelemetry\/(?!api\/)/.test(String(l.url)),
      ),
      [],
    );
  });
});

test('an OTEL_* value backstop cannot honour stops it at start-up with exit code 2', async () => {
  await assert.rejects(
    startBackstop({ UPSTREAM_URL: 'http://127.0.0.1:9', OTEL_TRACES_EXPORTER: 'console' }),
    /exited with 2 .*OTEL_TRACES_EXPORTER="console" is invalid/s,
  );
});
