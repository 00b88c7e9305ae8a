import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyAttempt, createModelMatcher } from '../verify/index.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { StreamTail } from './stream-tail.ts';
import { toUpstreamPath } from './target-path.ts';

test('paths: only /v1 under the upstream base path, query kept', () => {
  assert.equal(toUpstreamPath('/v1/chat/completions', ''), '/v1/chat/completions');
  assert.equal(toUpstreamPath('/v1/models?x=1&y=%20', '/gw'), '/gw/v1/models?x=1&y=%20');
  assert.equal(toUpstreamPath('/v1', ''), '/v1');
  assert.equal(
    toUpstreamPath('http://evil.example/v1/models', ''),
    '/v1/models',
    'absolute-form: authority ignored',
  );
});

test('paths: dot segments, encoded separators and other roots are refused', () => {
  for (const target of [
    '/v1/../admin',
    '/v1/./models',
    '/v1/%2e%2e/admin',
    '/v1/%2E%2E/admin',
    '/v1/models%2f..%2fadmin',
    '/v1/x%5cy',
    '/v1/x%00',
    '/v1//models',
    '/v2/models',
    '/v1x',
    '/',
    '*',
    'http://evil.example',
    '/v1/mod els',
    '/v1\\..\\admin',
  ]) {
    assert.equal(toUpstreamPath(target, ''), undefined, target);
  }
});

test('paths: encoded unreserved characters are decoded, so a route has one spelling (RFC 3986 6.2.2.2)', () => {
  assert.equal(toUpstreamPath('/v1/chat/%63ompletions', ''), '/v1/chat/completions');
  assert.equal(toUpstreamPath('/%76%31/%43hat/%7e%2D%5f', '/gw'), '/gw/v1/Chat/~-_');
  assert.equal(
    toUpstreamPath('/v1/a%20b%21?q=%63', ''),
    '/v1/a%20b%21?q=%63',
    'reserved and other escapes, and the query, are kept as they came',
  );
  // Encoded twice, or made by decoding: a gateway that decodes twice would see `completions`.
  for (const target of [
    '/v1/chat/%2563ompletions',
    '/v1/%252563hat/completions',
    '/v1/chat/%25%36%33ompletions',
    '/v1/chat/%%36%33ompletions',
    '/v1/%25%32e%25%32e/admin',
  ]) {
    assert.equal(toUpstreamPath(target, ''), undefined, target);
  }
});

test('request headers: hop-by-hop and Connection-listed ones dropped, Authorization kept, request id set', () => {
  const out = upstreamRequestHeaders(
    {
      authorization: 'Bearer sk-1',
      connection: 'keep-alive, x-hop',
      'x-hop': 'secret',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      te: 'trailers',
      upgrade: 'h2c',
      expect: '100-continue',
      host: 'backstop:8080',
      'content-length': '12',
      'proxy-authorization': 'Basic x',
      'x-request-id': 'client-given',
      'content-type': 'application/json',
      'openai-organization': 'org',
      'accept-encoding': 'gzip, br',
    },
    'rid-1',
    false,
  );
  assert.deepEqual(out, {
    authorization: 'Bearer sk-1',
    'content-type': 'application/json',
    'openai-organization': 'org',
    'accept-encoding': 'gzip, br',
    'x-request-id': 'rid-1',
  });
  const verified = upstreamRequestHeaders({ 'accept-encoding': 'gzip', authorization: 'x' }, 'rid-2', true);
  assert.equal(verified['accept-encoding'], 'identity', 'a body backstop must read is never compressed');
});

test('response headers: end-to-end ones kept, backstop’s own added', () => {
  const out = clientResponseHeaders(
    {
      'content-type': 'text/event-stream',
      'content-length': '10',
      connection: 'close, x-hop',
      'x-hop': '1',
      'transfer-encoding': 'chunked',
      'x-ratelimit-remaining': '9',
      'x-backstop-attempts': '99',
    },
    'rid',
    3,
    true,
  );
  assert.deepEqual(out, {
    'content-type': 'text/event-stream',
    'x-ratelimit-remaining': '9',
    'x-request-id': 'rid',
    'x-backstop-attempts': 3,
  });
});

test('stream tail: tells a finished stream from a cut one, across tiny chunks', () => {
  const done = new StreamTail();
  for (const c of ['data: {"a":1}\n\n', 'data: [DO', 'NE]', '\n', '\n']) done.push(Buffer.from(c));
  assert.equal(done.done, true);
  const crlf = new StreamTail();
  crlf.push(Buffer.from(`data: ${'x'.repeat(40)}\r\n\r\ndata: [DONE]\r\n\r\n`));
  assert.equal(crlf.done, true);
  const cut = new StreamTail();
  cut.push(Buffer.from('data: {"a":1}\n\ndata: {"b"'));
  assert.equal(cut.done, false);
  const between = new StreamTail();
  between.push(Buffer.from('data: {"a":1}\n\n'));
  assert.equal(between.done, false);
});

/** The result of an attempt that failed with `error` before any response. */
function classifyUpstreamError(error: unknown): string {
  const expect = { model: 'm', matches: createModelMatcher(new Map()) };
  return classifyAttempt(expect, 0, undefined, { kind: 'failed', error, timedOut: false, capped: false }, 0)
    .result;
}

test('upstream errors are classified by code, never by message', () => {
  assert.equal(
    classifyUpstreamError({ code: 'UND_ERR_HEADERS_TIMEOUT', message: 'connect refused' }),
    'timeout',
  );
  assert.equal(classifyUpstreamError({ code: 'UND_ERR_BODY_TIMEOUT' }), 'timeout');
  assert.equal(classifyUpstreamError({ code: 'ECONNREFUSED', message: 'timeout' }), 'connect_error');
  assert.equal(classifyUpstreamError({ code: 'UND_ERR_SOCKET' }), 'connect_error');
  assert.equal(classifyUpstreamError({ code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' }), 'invalid_response');
  assert.equal(classifyUpstreamError(new Error('whatever')), 'connect_error');
});
