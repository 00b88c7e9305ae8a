import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { ATTEMPT_RESULTS } from './attempt-result.ts';
import {
  type BodyToRead,
  classifyAttempt,
  NO_EVENT,
  NOTHING_READ,
  type NothingRead,
  type Seen,
  STREAM_ENDED,
  TOO_LARGE,
} from './classify-attempt.ts';
import { createModelMatcher } from './model-matcher.ts';

// The classifier as a table: every row is one observation and the verdict it must get. Together
// the rows reach every AttemptResult and every body the classifier can ask for (checked below).

const phi = 'phi';
const matches = createModelMatcher(new Map([['phi', ['phi-lora']]]));
const NOW = Date.parse('2026-12-01T00:00:00Z');
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const SSE_TYPE = { 'content-type': 'Text/Event-Stream ' };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const data = (value: unknown) => JSON.stringify(value);
const failed = (error: unknown, timedOut = false, capped = false): Seen => ({
  kind: 'failed',
  error,
  timedOut,
  capped,
});
const notFound = (name: string) => ({
  error: {
    message: `The model \`${name}\` does not exist.`,
    type: 'NotFoundError',
    param: 'model',
    code: 404,
  },
});

interface Row {
  name: string;
  /** The requested model; `null` for a pass-through route. */
  model?: string | null;
  status: number;
  headers?: IncomingHttpHeaders;
  seen: Seen | NothingRead;
  want: string;
  detail?: string;
  servedModel?: string;
  retryAfterMs?: number;
}

const rows: Row[] = [
  // 2xx, before any body: the content type says what to read.
  {
    name: 'JSON 200 asks for its body',
    status: 200,
    headers: JSON_TYPE,
    seen: NOTHING_READ,
    want: 'json_body',
  },
  {
    name: 'SSE 200 asks for its first event',
    status: 200,
    headers: SSE_TYPE,
    seen: NOTHING_READ,
    want: 'first_event',
  },
  {
    name: 'a 2xx of another type is invalid',
    status: 201,
    headers: { 'content-type': 'text/html' },
    seen: NOTHING_READ,
    want: 'invalid_response',
    detail: 'unexpected content-type text/html',
  },
  {
    name: 'a 2xx with no type is invalid',
    status: 200,
    seen: NOTHING_READ,
    want: 'invalid_response',
    detail: 'unexpected content-type (none)',
  },
  // 2xx JSON bodies.
  { name: 'JSON from the model', status: 200, headers: JSON_TYPE, seen: json({ model: phi }), want: 'ok' },
  {
    name: 'JSON from an alias',
    status: 200,
    headers: JSON_TYPE,
    seen: json({ model: 'phi-lora' }),
    want: 'ok',
  },
  {
    name: 'JSON from another model',
    status: 200,
    headers: JSON_TYPE,
    seen: json({ model: 'gemma' }),
    want: 'model_mismatch',
    servedModel: 'gemma',
    detail: 'answered by gemma',
  },
  {
    name: 'JSON that does not parse',
    status: 200,
    headers: JSON_TYPE,
    seen: Buffer.from('{"model":'),
    want: 'invalid_response',
    detail: 'body is not JSON',
  },
  {
    name: 'JSON that is an array',
    status: 200,
    headers: JSON_TYPE,
    seen: json([{ model: phi }]),
    want: 'invalid_response',
    detail: 'body is not a JSON object',
  },
  {
    name: 'JSON with no model',
    status: 200,
    headers: JSON_TYPE,
    seen: json({ choices: [] }),
    want: 'invalid_response',
    detail: 'body has no model',
  },
  {
    name: 'JSON past MAX_RESPONSE_BYTES',
    status: 200,
    headers: JSON_TYPE,
    seen: TOO_LARGE,
    want: 'invalid_response',
    detail: 'JSON body exceeds MAX_RESPONSE_BYTES',
  },
  // 2xx streams: the first event's data.
  {
    name: 'first event from the model',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ model: phi }),
    want: 'ok',
  },
  {
    name: 'first event from another model',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ model: 'gemma' }),
    want: 'model_mismatch',
    servedModel: 'gemma',
    detail: 'answered by gemma',
  },
  {
    name: '[DONE] first',
    status: 200,
    headers: SSE_TYPE,
    seen: '[DONE]',
    want: 'invalid_response',
    detail: 'stream ended before any data',
  },
  {
    name: 'first event not JSON',
    status: 200,
    headers: SSE_TYPE,
    seen: 'hello',
    want: 'invalid_response',
    detail: 'first event is not JSON',
  },
  {
    name: 'first event a JSON string',
    status: 200,
    headers: SSE_TYPE,
    seen: '"x"',
    want: 'invalid_response',
    detail: 'first event is not a JSON object',
  },
  {
    name: 'first event with no model',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ choices: [] }),
    want: 'invalid_response',
    detail: 'first event has no model',
  },
  {
    name: 'stream ended before an event',
    status: 200,
    headers: SSE_TYPE,
    seen: STREAM_ENDED,
    want: 'invalid_response',
    detail: 'stream ended before the first event',
  },
  {
    name: 'no event within the limit',
    status: 200,
    headers: SSE_TYPE,
    seen: NO_EVENT,
    want: 'invalid_response',
    detail: 'no event within the response size limit',
  },
  // In-band errors, read as the same status would be.
  {
    name: 'in-band 500',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ error: { code: 500 } }),
    want: 'upstream_5xx',
  },
  {
    name: 'in-band error, no code',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ error: 'x' }),
    want: 'upstream_5xx',
  },
  {
    name: 'in-band 429',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ error: { code: 429 } }),
    want: 'rate_limited',
  },
  {
    name: 'in-band "429"',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ error: { code: '429' } }),
    want: 'rate_limited',
  },
  {
    name: 'in-band 400',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ error: { code: 400 } }),
    want: 'client_error',
  },
  {
    name: 'in-band not-found of the model',
    status: 200,
    headers: SSE_TYPE,
    seen: data(notFound(phi)),
    want: 'model_not_found',
  },
  {
    name: 'in-band not-found of another name',
    status: 200,
    headers: SSE_TYPE,
    seen: data(notFound('phi-3')),
    want: 'client_error',
  },
  {
    name: 'in-band NotFoundError without a code',
    status: 200,
    headers: SSE_TYPE,
    seen: data({ error: { type: 'NotFoundError', message: 'no route' } }),
    want: 'client_error',
  },
  // 404: the bounded body decides.
  { name: '404 asks for its body', status: 404, headers: JSON_TYPE, seen: NOTHING_READ, want: 'error_body' },
  { name: '404 naming the model', status: 404, seen: json(notFound(phi)), want: 'model_not_found' },
  {
    name: '404 in the flat shape',
    status: 404,
    seen: json({ object: 'error', message: 'The model `phi` does not exist.', code: 404 }),
    want: 'model_not_found',
  },
  { name: '404 naming another model', status: 404, seen: json(notFound('phi-3')), want: 'client_error' },
  { name: '404 of a wrong path', status: 404, seen: Buffer.from('404 page not found'), want: 'client_error' },
  { name: '404 past its bound', status: 404, seen: TOO_LARGE, want: 'client_error' },
  // 429: Retry-After, seconds or an HTTP-date, from when the headers arrived.
  { name: '429 asks for its body', status: 429, seen: NOTHING_READ, want: 'error_body' },
  {
    name: '429 with Retry-After seconds',
    status: 429,
    headers: { 'retry-after': '3' },
    seen: Buffer.alloc(0),
    want: 'rate_limited',
    detail: 'status 429',
    retryAfterMs: 3000,
  },
  {
    name: '429 with a Retry-After date',
    status: 429,
    headers: { 'retry-after': new Date(NOW + 5000).toUTCString() },
    seen: TOO_LARGE,
    want: 'rate_limited',
    detail: 'status 429',
    retryAfterMs: 5000,
  },
  {
    name: '429 without Retry-After',
    status: 429,
    seen: Buffer.alloc(0),
    want: 'rate_limited',
    detail: 'status 429',
  },
  // Other statuses, on the status alone.
  ...[500, 502, 503, 504].map((status) => ({
    name: `${status}`,
    status,
    seen: NOTHING_READ,
    want: 'upstream_5xx',
    detail: `status ${status}`,
  })),
  ...[301, 400, 401, 403, 405, 413, 422, 501, 505].map((status) => ({
    name: `${status}`,
    status,
    seen: NOTHING_READ,
    want: 'client_error',
  })),
  // Pass-through routes: the status alone, whatever the body.
  { name: 'pass-through 200', model: null, status: 200, seen: NOTHING_READ, want: 'ok' },
  { name: 'pass-through 404', model: null, status: 404, seen: NOTHING_READ, want: 'client_error' },
  {
    name: 'pass-through 429',
    model: null,
    status: 429,
    headers: { 'retry-after': '3' },
    seen: NOTHING_READ,
    want: 'rate_limited',
  },
  { name: 'pass-through 503', model: null, status: 503, seen: NOTHING_READ, want: 'upstream_5xx' },
  { name: 'pass-through 400', model: null, status: 400, seen: NOTHING_READ, want: 'client_error' },
  // Failures below HTTP: by code, never by message; the timer's by what it waited for.
  {
    name: 'attempt timer, no headers',
    status: 0,
    seen: failed(new Error('aborted'), true),
    want: 'timeout',
    detail: 'no response headers within ATTEMPT_TIMEOUT_MS',
  },
  {
    name: 'deadline timer, mid-body',
    status: 200,
    seen: failed(new Error('aborted'), true, true),
    want: 'timeout',
    detail: 'no complete answer or first event within the retry deadline (RETRY_DEADLINE_MS)',
  },
  ...['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT'].map(
    (code) => ({
      name: code,
      status: 0,
      seen: failed({ code, message: 'connection refused' }),
      want: 'timeout',
      detail: code,
    }),
  ),
  ...['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_EXCEEDED_MAX_SIZE'].map((code) => ({
    name: code,
    status: 200,
    seen: failed({ code }),
    want: 'invalid_response',
    detail: code,
  })),
  ...['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'ENOTFOUND'].map((code) => ({
    name: code,
    status: 0,
    seen: failed({ code, message: 'timeout' }),
    want: 'connect_error',
    detail: code,
  })),
  {
    name: 'an error with no code',
    status: 0,
    seen: failed(new Error('other side closed')),
    want: 'connect_error',
    detail: 'other side closed',
  },
  {
    name: 'a thrown non-error',
    model: null,
    status: 0,
    seen: failed('boom'),
    want: 'connect_error',
    detail: 'boom',
  },
];

test('the classifier, row by row', () => {
  for (const row of rows) {
    const expect = { model: row.model === null ? undefined : (row.model ?? phi), matches };
    const verdict = classifyAttempt(expect, row.status, row.headers ?? {}, row.seen as Seen, NOW);
    if (typeof verdict === 'string') {
      assert.equal(verdict, row.want, row.name);
      continue;
    }
    assert.deepEqual(
      { ...verdict },
      {
        result: row.want,
        ...(row.detail !== undefined || verdict.detail !== undefined ? { detail: row.detail } : {}),
        ...(row.servedModel !== undefined || verdict.servedModel !== undefined
          ? { servedModel: row.servedModel }
          : {}),
        ...(row.retryAfterMs !== undefined || 'retryAfterMs' in verdict
          ? { retryAfterMs: row.retryAfterMs }
          : {}),
      },
      row.name,
    );
  }
});

test('the table reaches every attempt result and every body the classifier asks for', () => {
  const reached = new Set(rows.map((row) => row.want));
  const bodies: BodyToRead[] = ['json_body', 'first_event', 'error_body'];
  for (const want of [...ATTEMPT_RESULTS, ...bodies]) assert.ok(reached.has(want), want);
});

test('once a body was read, the verdict is final: the classifier never asks twice', () => {
  for (const row of rows) {
    if (row.seen === NOTHING_READ) continue;
    const expect = { model: row.model === null ? undefined : (row.model ?? phi), matches };
    const verdict = classifyAttempt(expect, row.status, row.headers ?? {}, row.seen as Seen, NOW);
    assert.equal(typeof verdict, 'object', row.name);
  }
});

test('a success is one shared verdict: classifying an ok attempt allocates none', () => {
  const expect = { model: phi, matches };
  const a = classifyAttempt(expect, 200, JSON_TYPE, json({ model: phi }), NOW);
  const b = classifyAttempt(expect, 200, SSE_TYPE, data({ model: phi }), NOW);
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
});
