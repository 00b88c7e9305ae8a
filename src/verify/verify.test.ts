import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyAttempt, NOTHING_READ } from './classify-attempt.ts';
import { createModelMatcher } from './model-matcher.ts';
import { namesRequestedModel } from './not-found-body.ts';
import { SseFirstEvent } from './sse-first-event.ts';

const exact = createModelMatcher(new Map());
const phi = 'microsoft/Phi-3-mini-4k-instruct';
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream' };

/** What the status alone says on a model route: a verdict, or the body it needs. */
const byStatus = (status: number) => {
  const verdict = classifyAttempt({ model: phi, matches: exact }, status, JSON_HEADERS, NOTHING_READ, 0);
  return typeof verdict === 'string' ? verdict : verdict.result;
};
const verifyJsonBody = (body: Buffer, requested: string, matches = exact) =>
  classifyAttempt({ model: requested, matches }, 200, JSON_HEADERS, body, 0);

test('status: 2xx and 404 need the body; 429 and the gateway 5xx are retryable; the rest is the client’s', () => {
  assert.equal(byStatus(200), 'json_body');
  assert.equal(byStatus(204), 'json_body');
  assert.equal(byStatus(404), 'error_body');
  assert.equal(byStatus(429), 'error_body', 'its body is kept, for a Retry-After that outlasts the deadline');
  for (const s of [500, 502, 503, 504]) assert.equal(byStatus(s), 'upstream_5xx');
  for (const s of [400, 401, 403, 405, 413, 422, 501, 301]) assert.equal(byStatus(s), 'client_error');
});

test('JSON body: the top-level model decides', () => {
  assert.deepEqual(verifyJsonBody(json({ model: phi, choices: [] }), phi), { result: 'ok' });
  assert.deepEqual(verifyJsonBody(json({ model: 'google/gemma-2b-it' }), phi), {
    result: 'model_mismatch',
    servedModel: 'google/gemma-2b-it',
    detail: 'answered by google/gemma-2b-it',
  });
  assert.equal(verifyJsonBody(Buffer.from('{"model": "x", "cho'), phi).result, 'invalid_response');
  assert.equal(verifyJsonBody(json([{ model: phi }]), phi).result, 'invalid_response');
  assert.equal(verifyJsonBody(json({ choices: [] }), phi).result, 'invalid_response');
  assert.equal(verifyJsonBody(json({ data: { model: phi } }), phi).result, 'invalid_response');
});

test('aliases: alias=served-name accepts the served name for the alias, nothing else', () => {
  const matches = createModelMatcher(new Map([['phi3', [phi, 'phi3-lora']]]));
  assert.equal(matches('phi3', phi), true);
  assert.equal(matches('phi3', 'phi3-lora'), true);
  assert.equal(matches('phi3', 'phi3'), true);
  assert.equal(matches('phi3', 'google/gemma-2b-it'), false);
  assert.equal(matches(phi, 'phi3'), false);
  assert.equal(matches('phi3', undefined), false);
});

test('404 body: both vLLM shapes naming the model are routing misses; others are not', () => {
  const nested = {
    error: {
      message: `The model \`${phi}\` does not exist.`,
      type: 'NotFoundError',
      param: 'model',
      code: 404,
    },
  };
  const flat = {
    object: 'error',
    message: `The model \`${phi}\` does not exist.`,
    type: 'NotFoundError',
    param: null,
    code: 404,
  };
  assert.equal(namesRequestedModel(json(nested), phi), true);
  assert.equal(namesRequestedModel(json(flat), phi), true);
  assert.equal(namesRequestedModel(json(nested), 'google/gemma-2b-it'), false);
  assert.equal(namesRequestedModel(json({ detail: 'Not Found' }), phi), false);
  assert.equal(namesRequestedModel(Buffer.from('404 page not found'), phi), false);
});

/** The verdict on a stream fed in `chunks`, once its first data event is complete. */
function peek(chunks: string[], requested = phi) {
  const first = new SseFirstEvent();
  for (const chunk of chunks) {
    const data = first.feed(Buffer.from(chunk));
    if (data !== undefined)
      return classifyAttempt({ model: requested, matches: exact }, 200, SSE_HEADERS, data, 0);
  }
  return undefined;
}

const event = (value: unknown, eol = '\n') => `data: ${JSON.stringify(value)}${eol}${eol}`;

test('SSE: the first data event decides, after comments, across split chunks and CRLF', () => {
  assert.deepEqual(peek([event({ model: phi })]), { result: 'ok' });
  assert.deepEqual(peek([': ping\n\n', ':\n\n', event({ model: phi })]), { result: 'ok' });
  assert.deepEqual(peek(event({ model: phi }, '\r\n').split('')), { result: 'ok' });
  assert.equal(peek([event({ model: 'other' })])?.result, 'model_mismatch');
  assert.equal(peek(['data: {"model":', '"x"']), undefined, 'an incomplete event has no verdict yet');
});

test('SSE: a multi-byte character split across chunks decodes intact', () => {
  const text = event({ model: 'modèle-é' });
  const bytes = Buffer.from(text);
  const cut = bytes.indexOf(0xc3) + 1;
  const first = new SseFirstEvent();
  assert.equal(first.feed(bytes.subarray(0, cut)), undefined);
  assert.equal(first.feed(bytes.subarray(cut)), JSON.stringify({ model: 'modèle-é' }));
});

test('SSE: [DONE] first, non-JSON and in-band errors are failed attempts', () => {
  assert.equal(peek(['data: [DONE]\n\n'])?.result, 'invalid_response');
  assert.equal(peek(['data: hello\n\n'])?.result, 'invalid_response');
  assert.equal(peek([event({ error: { message: 'boom', code: 500 } })])?.result, 'upstream_5xx');
  assert.equal(peek([event({ error: { message: 'slow down', code: 429 } })])?.result, 'rate_limited');
  const missing = {
    error: { message: `The model \`${phi}\` does not exist.`, type: 'NotFoundError', code: 404 },
  };
  assert.equal(peek([event(missing)])?.result, 'model_not_found');
  assert.equal(
    peek([event({ error: { message: 'bad', type: 'BadRequestError', code: 400 } })])?.result,
    'client_error',
  );
});

test('SSE: an in-band not-found is a routing miss only when it quotes the requested model exactly', () => {
  const notFound = (name: string) => ({
    error: { message: `The model \`${name}\` does not exist.`, type: 'NotFoundError', code: 404 },
  });
  assert.equal(peek([event(notFound('phi'))], 'phi')?.result, 'model_not_found');
  assert.notEqual(peek([event(notFound('phi-3'))], 'phi')?.result, 'model_not_found');
});

test('SSE: an in-band 404 that does not name the model is a client error, as the same 404 status is', () => {
  const body = { error: { message: 'Not Found', type: 'NotFoundError', param: null, code: 404 } };
  assert.equal(byStatus(404), 'error_body');
  assert.equal(namesRequestedModel(json(body), phi), false, 'as a status: passed through');
  assert.equal(peek([event(body)])?.result, 'client_error');
  assert.equal(peek([event({ error: { message: 'Not Found', code: '404' } })])?.result, 'client_error');
  assert.equal(
    peek([event({ error: { message: 'no such route', type: 'NotFoundError' } })])?.result,
    'client_error',
  );
  const other = { error: { message: 'The model `phi-3` does not exist.', type: 'NotFoundError', code: 404 } };
  assert.equal(peek([event(other)], 'phi')?.result, 'client_error', 'another name: a real not-found');
});
