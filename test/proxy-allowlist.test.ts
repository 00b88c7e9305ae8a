import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { inflight } from './support/proxy-client.ts';
import { json, ScriptedUpstream, status } from './support/scripted-upstream.ts';

// Issue 10, defect 2: no spelling of a request gets a model past MODELS, or a model route past
// verification. vLLM (FastAPI) reads a body with no content-type as JSON, and decodes it as
// Python's json.loads(bytes) does; a gateway decodes `%63` to `c` (RFC 3986 6.2.2.2). node:http,
// not fetch: fetch adds a content-type of its own to a string body.

const ALLOWED = ['al-a', 'al-b'];

let upstream: ScriptedUpstream;
let backstop: BackstopProcess;

before(async () => {
  upstream = await new ScriptedUpstream().listen();
  backstop = await startBackstop({
    UPSTREAM_URL: `${upstream.url}/gw`,
    MODELS: ALLOWED.join(','),
    RETRY_BASE_DELAY_MS: '1',
    RETRY_MAX_DELAY_MS: '5',
  });
});

after(async () => {
  assert.equal(backstop.child.exitCode, null, 'backstop survived every request');
  assert.equal(await inflight(backstop.adminUrl), 0);
  const code = await backstop.stop();
  await upstream.close();
  // After the cleanup: a failed assertion must not leave a server open and the file running.
  assert.equal(code, 0);
});

interface Reply {
  status: number;
  code: string | undefined;
  attempts: string | undefined;
  text: string;
}

/** POSTs `body` to `path` exactly as given, with exactly `headers` (and content-length). */
function post(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const { port } = new URL(backstop.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-length': bytes.length },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
          } catch {
            code = undefined;
          }
          const attempts = res.headers['x-backstop-attempts'];
          resolve({ status: res.statusCode ?? 0, code, attempts: attempts as string | undefined, text });
        });
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

describe('MODELS holds for every body that is JSON to the upstream, whatever its content-type', () => {
  const forbidden = '{"model":"gpt-4o","input":"x"}';
  const cases: [string, Buffer, Record<string, string>][] = [
    ['no content-type', Buffer.from(forbidden), {}],
    ['text/plain', Buffer.from(forbidden), { 'content-type': 'text/plain' }],
    ['a form content-type', Buffer.from(forbidden), { 'content-type': 'application/x-www-form-urlencoded' }],
    [
      'a UTF-8 BOM, application/json',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(forbidden)]),
      { 'content-type': 'application/json' },
    ],
    ['UTF-16LE, no content-type', Buffer.from(forbidden, 'utf16le'), {}],
    ['leading whitespace, no content-type', Buffer.from(`\r\n  ${forbidden}`), {}],
  ];
  for (const [name, body, headers] of cases) {
    test(`POST /v1/responses, ${name}: 404 model_not_found, never sent upstream`, async () => {
      const before = upstream.seen.length;
      const reply = await post('/v1/responses', body, headers);
      assert.deepEqual([reply.status, reply.code, reply.attempts], [404, 'model_not_found', '0'], reply.text);
      assert.equal(upstream.seen.length, before, `reached the upstream as ${upstream.seen.at(-1)?.url}`);
    });
  }

  test('a JSON object backstop cannot parse (NaN, which Python reads) is refused with MODELS set', async () => {
    const before = upstream.seen.length;
    const reply = await post('/v1/responses', '{"model":"gpt-4o","temperature":NaN}');
    assert.deepEqual([reply.status, reply.code], [400, 'invalid_json'], reply.text);
    assert.equal(upstream.seen.length, before);
  });

  test('an allowed model, and a body that is not a JSON object, still pass through', async () => {
    upstream.script('al-a', status(200, '{"object":"response"}'));
    const allowed = await post('/v1/responses', '{"model":"al-a","input":"x"}');
    assert.equal(allowed.status, 200, allowed.text);
    assert.equal(upstream.seen.at(-1)?.url, '/gw/v1/responses');
    upstream.script('/gw/v1/files', status(200, '{"object":"file"}'));
    for (const text of ['model=gpt-4o', '[{"model":"gpt-4o"}]', '{"purpose":"batch"}']) {
      const reply = await post('/v1/files', text, { 'content-type': 'text/plain' });
      assert.equal(reply.status, 200, `${text}: ${reply.text}`);
      assert.equal(upstream.seen.at(-1)?.body, text);
    }
  });
});

describe('a percent-encoded spelling of a model route is that model route', () => {
  const chat = (model?: string) =>
    JSON.stringify({ ...(model ? { model } : {}), messages: [{ role: 'user', content: 'x' }] });
  const headers = { 'content-type': 'application/json' };

  test('POST /v1/chat/%63ompletions is verified and retried, and sent upstream in its normal form', async () => {
    // The first answer is another model's: a verified route retries it, a pass-through would not.
    upstream.script('al-b', json('someone-else'), json());
    const before = upstream.seen.length;
    const reply = await post('/v1/chat/%63ompletions', chat('al-b'), headers);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.attempts, '2', 'the wrong model was caught and retried');
    assert.match(reply.text, /"model":"al-b"/);
    const seen = upstream.seen.slice(before).map((s) => s.url);
    assert.deepEqual(seen, ['/gw/v1/chat/completions', '/gw/v1/chat/completions']);
  });

  test('other spellings too: an encoded v1, several escapes, lower- and upper-case hex, a trailing slash', async () => {
    upstream.script('al-a', json('someone-else'), json());
    const reply = await post('/%76%31/%63%68at/c%6Fmpletions/', chat('al-a'), headers);
    assert.equal(reply.attempts, '2', reply.text);
  });

  test('the model rules of a model route hold: no model is 400, a model not in MODELS is 404', async () => {
    const before = upstream.seen.length;
    const missing = await post('/v1/chat/%63ompletions', chat(), headers);
    assert.deepEqual([missing.status, missing.code], [400, 'missing_model'], missing.text);
    const other = await post('/v1/%65mbeddings', JSON.stringify({ model: 'gpt-4o', input: 'x' }), headers);
    assert.deepEqual([other.status, other.code], [404, 'model_not_found'], other.text);
    assert.equal(upstream.seen.length, before);
  });

  test('an unreserved character encoded twice is refused: a gateway that decodes twice would route it', async () => {
    const before = upstream.seen.length;
    for (const path of ['/v1/chat/%2563ompletions', '/v1/chat/%25%36%33ompletions']) {
      const reply = await post(path, chat('al-a'), headers);
      assert.deepEqual([reply.status, reply.code], [404, 'not_found'], `${path}: ${reply.text}`);
    }
    assert.equal(upstream.seen.length, before);
  });
});
