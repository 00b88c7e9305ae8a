import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { json, notFound, reset, ScriptedUpstream, status } from './support/scripted-upstream.ts';

const SECRET = 'sk-very-secret-token-9f8e7d';
const ALLOWED = ['phi3', 'microsoft/Phi-3-mini-4k-instruct', 'e-json', 'e-headers', 'e-id'];

let upstream: ScriptedUpstream;
let backstop: BackstopProcess;
let openai: OpenAI;

before(async () => {
  upstream = await new ScriptedUpstream().listen();
  backstop = await startBackstop({
    // A base path on the upstream URL is kept in front of every forwarded path.
    UPSTREAM_URL: `${upstream.url}/gw`,
    MODELS: ALLOWED.join(','),
    MODEL_ALIASES: 'phi3=microsoft/Phi-3-mini-4k-instruct',
    MAX_BODY_BYTES: '2048',
    RETRY_MAX_ATTEMPTS: '3',
    RETRY_MAX_MISROUTES: '3',
    RETRY_BASE_DELAY_MS: '1',
    RETRY_MAX_DELAY_MS: '5',
  });
  openai = new OpenAI({ baseURL: `${backstop.url}/v1`, apiKey: SECRET, maxRetries: 0 });
});

after(async () => {
  await backstop.stop();
  await upstream.close();
  // Authorization is never logged, on any line.
  assert.ok(
    !backstop.logs.some((line) => JSON.stringify(line).includes(SECRET)),
    'the API key leaked into a log line',
  );
});

const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${backstop.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

async function errorOf(res: Response) {
  const body = (await res.json()) as {
    error: { code: string; type: string; message: string; param: string | null };
  };
  return { status: res.status, ...body.error, attempts: res.headers.get('x-backstop-attempts') };
}

describe('aliases and the model allowlist', () => {
  test('MODEL_ALIASES: an answer from the served name is accepted for the alias', async () => {
    upstream.script('phi3', json('microsoft/Phi-3-mini-4k-instruct'));
    const { data, response } = await openai.chat.completions
      .create({ model: 'phi3', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    assert.equal(data.model, 'microsoft/Phi-3-mini-4k-instruct');
    assert.equal(response.headers.get('x-backstop-attempts'), '1');
  });

  test('without an alias the same answer is a wrong model', async () => {
    upstream.script('microsoft/Phi-3-mini-4k-instruct', json('phi3'), json());
    const { response } = await openai.chat.completions
      .create({ model: 'microsoft/Phi-3-mini-4k-instruct', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    assert.equal(response.headers.get('x-backstop-attempts'), '2');
  });

  test('MODELS: another model gets 404 model_not_found and never reaches the upstream', async () => {
    const before = upstream.seen.length;
    const error = await errorOf(
      await post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: [] })),
    );
    assert.deepEqual(
      [error.status, error.code, error.type, error.param, error.attempts],
      [404, 'model_not_found', 'invalid_request_error', 'model', '0'],
    );
    assert.match(error.message, /gpt-4o/);
    assert.equal(upstream.seen.length, before);
  });
});

describe('bad input is answered by backstop and never sent upstream', () => {
  const cases: [string, () => Promise<Response>, number, string][] = [
    ['invalid JSON', () => post('/v1/chat/completions', '{"model": "e-json",'), 400, 'invalid_json'],
    ['no model', () => post('/v1/completions', '{"prompt": "x"}'), 400, 'missing_model'],
    ['a model that is not a string', () => post('/v1/completions', '{"model": 7}'), 400, 'missing_model'],
    ['an empty model', () => post('/v1/embeddings', '{"model": ""}'), 400, 'missing_model'],
    ['a JSON array', () => post('/v1/completions', '[{"model": "e-json"}]'), 400, 'missing_model'],
    [
      'a body over MAX_BODY_BYTES',
      () => post('/v1/completions', JSON.stringify({ model: 'e-json', prompt: 'x'.repeat(4096) })),
      413,
      'body_too_large',
    ],
    ['an unknown path', () => fetch(`${backstop.url}/admin`), 404, 'not_found'],
    ['a path outside /v1', () => post('/v2/chat/completions', '{"model":"e-json"}'), 404, 'not_found'],
  ];
  for (const [name, send, code, errorCode] of cases) {
    test(name, async () => {
      const before = upstream.seen.length;
      const error = await errorOf(await send());
      assert.equal(error.status, code);
      assert.equal(error.code, errorCode);
      assert.equal(error.attempts, '0');
      assert.equal(upstream.seen.length, before);
    });
  }

  test('a chunked body over MAX_BODY_BYTES is cut off while it streams in', async () => {
    const before = upstream.seen.length;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${backstop.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"model":"e-json","prompt":"');
      for (let i = 0; i < 4; i++) req.write('y'.repeat(1024));
      req.end('"}');
    });
    assert.equal(answer.status, 413);
    assert.match(answer.body, /"code":"body_too_large"/);
    assert.equal(upstream.seen.length, before);
  });
});

describe('headers', () => {
  test('end-to-end headers pass both ways; hop-by-hop ones do not; the body is forwarded byte for byte', async () => {
    upstream.script('e-headers', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-upstream-thing': 'kept',
        'x-hop-response': 'dropped',
        connection: 'x-hop-response',
      });
      res.end(JSON.stringify({ model: 'e-headers', choices: [] }));
    });
    // Unusual spacing and key order must survive: the bytes are resent, never re-serialised.
    const body = '{ "messages":[],   "model" : "e-headers", "extra": {"b":1,"a":2} }';
    // node:http, not fetch: fetch refuses to send a Connection header at all.
    const res = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>(
      (resolve, reject) => {
        const req = request(`${backstop.url}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${SECRET}`,
            connection: 'keep-alive, x-hop',
            'x-hop': 'dropped',
            'x-custom': 'kept',
            'x-request-id': 'client-chosen-id-1',
          },
        });
        req.on('response', (r) => {
          r.resume();
          r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers }));
        });
        req.on('error', reject);
        req.end(body);
      },
    );
    assert.equal(res.status, 200);
    const seen = upstream.seen.at(-1);
    assert.ok(seen);
    assert.equal(seen.url, '/gw/v1/chat/completions');
    assert.equal(seen.body, body);
    assert.equal(seen.headers.authorization, `Bearer ${SECRET}`);
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers['x-hop'], undefined);
    assert.equal(seen.headers['x-request-id'], 'client-chosen-id-1');
    assert.equal(seen.headers.host, new URL(upstream.url).host);
    assert.equal(res.headers['x-upstream-thing'], 'kept');
    assert.equal(res.headers['x-hop-response'], undefined);
    assert.equal(res.headers['x-request-id'], 'client-chosen-id-1');
    assert.equal(res.headers['x-backstop-attempts'], '1');
  });

  test('a request id is generated when the client sends none (or an unusable one), and sent upstream', async () => {
    upstream.script('e-id', json());
    for (const given of [undefined, 'has spaces in it', 'x'.repeat(300)]) {
      const res = await post('/v1/completions', '{"model":"e-id"}', given ? { 'x-request-id': given } : {});
      await res.arrayBuffer();
      const id = res.headers.get('x-request-id') ?? '';
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal(upstream.seen.at(-1)?.headers['x-request-id'], id);
    }
  });
});

describe('pass-through routes', () => {
  test('GET /v1/models is forwarded with its query, and retried on 502-504 only', async () => {
    upstream.script(
      '/gw/v1/models?limit=2',
      status(503, 'no healthy upstream'),
      status(200, '{"object":"list","data":[]}'),
    );
    const res = await fetch(`${backstop.url}/v1/models?limit=2`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{"object":"list","data":[]}');
    assert.equal(res.headers.get('x-backstop-attempts'), '2');
    upstream.script('/gw/v1/models?limit=3', status(500, '{"error":"boom"}'), status(200, '{}'));
    const failed = await fetch(`${backstop.url}/v1/models?limit=3`);
    assert.equal(failed.status, 500, 'a 500 on a GET is passed through, not retried');
    assert.equal(await failed.text(), '{"error":"boom"}');
    assert.equal(upstream.count('/gw/v1/models?limit=3'), 1);
  });

  test('a GET is retried after a connection reset', async () => {
    upstream.script('/gw/v1/models?limit=5', reset, status(200, '{"object":"list","data":[]}'));
    const res = await fetch(`${backstop.url}/v1/models?limit=5`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-backstop-attempts'), '2');
    assert.equal(upstream.count('/gw/v1/models?limit=5'), 2);
  });

  test('a GET that keeps failing ends with the upstream answer after RETRY_MAX_ATTEMPTS', async () => {
    upstream.script('/gw/v1/models?limit=4', status(502, 'bad gateway', { 'content-type': 'text/plain' }));
    const res = await fetch(`${backstop.url}/v1/models?limit=4`);
    assert.equal(res.status, 502);
    assert.equal(await res.text(), 'bad gateway');
    assert.equal(upstream.count('/gw/v1/models?limit=4'), 3);
  });

  test('other methods on other /v1 paths are forwarded once, never retried', async () => {
    upstream.script('/gw/v1/files', status(503, 'busy'));
    const res = await post('/v1/files', 'raw-bytes');
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'busy');
    assert.equal(upstream.count('/gw/v1/files'), 1);
    assert.equal(upstream.seen.at(-1)?.body, 'raw-bytes');
  });

  test('a model route that is always misrouted ends in 502 retries_exhausted', async () => {
    upstream.script('e-json', notFound());
    const error = await errorOf(await post('/v1/completions', '{"model":"e-json"}'));
    assert.deepEqual([error.status, error.code, error.attempts], [502, 'retries_exhausted', '3']);
  });
});

describe('logs and admin', () => {
  test('one log line per request, with id, model, attempts, results, status and duration', async () => {
    upstream.script('e-id', notFound('flat'), json());
    const res = await post('/v1/completions', '{"model":"e-id"}', { authorization: `Bearer ${SECRET}` });
    await res.arrayBuffer();
    const id = res.headers.get('x-request-id');
    const line = await backstop.waitForLog((l) => l.msg === 'request' && l.reqId === id);
    assert.equal(backstop.logs.filter((l) => l.reqId === id).length, 1);
    assert.deepEqual(
      [line.model, line.attempts, line.results, line.status, line.outcome],
      ['e-id', 2, ['model_not_found', 'ok'], 200, 'ok'],
    );
    assert.equal(typeof line.durationMs, 'number');
  });

  test('/healthz and /readyz answer on the admin port, not on the proxy port', async () => {
    assert.equal((await fetch(`${backstop.adminUrl}/healthz`)).status, 200);
    assert.deepEqual(await (await fetch(`${backstop.adminUrl}/readyz`)).json(), { status: 'ready' });
    assert.equal((await fetch(`${backstop.url}/healthz`)).status, 404);
  });
});

describe('configuration errors', () => {
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      timeout: 10_000,
    });

  test('a missing or bad variable exits 2 with one line naming it, its value and what is expected', () => {
    const missing = run({});
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    assert.match(missing.stderr, /UPSTREAM_URL is not set: expected the gateway's base URL/);
    const bad = run({ UPSTREAM_URL: 'http://127.0.0.1:9', RETRY_MAX_ATTEMPTS: 'ten' });
    assert.equal(bad.status, 2);
    assert.equal(
      bad.stderr.trim(),
      'backstop: configuration error: RETRY_MAX_ATTEMPTS="ten" is invalid: expected an integer between 1 and 100',
    );
    assert.equal(bad.stdout, '');
  });
});
