import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  badRequest,
  contextLengthMessage,
  EPP_NO_BACKEND_BODY,
  modelNotFoundFlat,
  modelNotFoundNested,
} from './error-bodies.ts';
import {
  completionJson,
  completionJsonAround,
  type Generation,
  modelsList,
  sseFrames,
} from './vllm-responses.ts';

const gen = (endpoint: 'chat' | 'completion', tokens = ['Hello', ' "quoted"', ' world\n']): Generation => ({
  endpoint,
  id: 'x-1',
  created: 1700000000,
  model: 'org/model-1',
  tokens,
  promptTokens: 33,
});

/** Splits a stream into its data payloads, checking the framing strictly: `data: ` lines, blank-line separated. */
function payloads(stream: string, eol: string): string[] {
  assert.ok(stream.endsWith(eol + eol), 'the stream ends with a blank line');
  const events = stream.slice(0, -2 * eol.length).split(eol + eol);
  return events.map((event) => {
    assert.ok(event.startsWith('data: '), `event ${JSON.stringify(event)} is a data line`);
    assert.ok(!event.includes(eol), 'one line per event');
    return event.slice('data: '.length);
  });
}

test('non-streaming bodies are valid JSON with model, content and usage', () => {
  const chat = JSON.parse(completionJson(gen('chat')));
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.model, 'org/model-1');
  assert.equal(chat.choices[0].message.content, 'Hello "quoted" world\n');
  assert.equal(chat.choices[0].finish_reason, 'length');
  assert.deepEqual(chat.usage, { prompt_tokens: 33, completion_tokens: 3, total_tokens: 36 });
  const text = JSON.parse(completionJson(gen('completion')));
  assert.equal(text.object, 'text_completion');
  assert.equal(text.choices[0].text, 'Hello "quoted" world\n');
});

test('completionJsonAround wraps any content into the same valid body', () => {
  const { head, tail } = completionJsonAround(gen('completion'));
  const body = JSON.parse(`${head}${'a'.repeat(1000)}${tail}`);
  assert.equal(body.model, 'org/model-1');
  assert.equal(body.choices[0].text.length, 1000);
  assert.equal(body.usage.completion_tokens, 3);
});

for (const eol of ['\n', '\r\n']) {
  test(`chat SSE (eol ${JSON.stringify(eol)}): role first, one chunk per token, usage, [DONE] last`, () => {
    const frames = sseFrames(gen('chat'), true, eol);
    assert.equal(frames.length, 3, 'one frame per token');
    const data = payloads(frames.join(''), eol);
    assert.equal(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.ok(
      chunks.every(
        (c) => c.object === 'chat.completion.chunk' && c.model === 'org/model-1' && c.id === 'x-1',
      ),
    );
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
    const tokens = chunks.slice(1, -1);
    assert.equal(tokens.map((c) => c.choices[0].delta.content).join(''), 'Hello "quoted" world\n');
    assert.deepEqual(
      tokens.map((c) => c.choices[0].finish_reason),
      [null, null, 'length'],
    );
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.equal(chunks.at(-1).usage.total_tokens, 36);
  });
}

test('completion SSE without include_usage: text chunks then [DONE], no usage chunk', () => {
  const data = payloads(sseFrames(gen('completion'), false).join(''), '\n');
  assert.equal(data.length, 4);
  assert.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.ok(chunks.every((c) => c.object === 'text_completion' && c.usage === undefined));
  assert.equal(chunks.map((c) => c.choices[0].text).join(''), 'Hello "quoted" world\n');
});

test('the two vLLM 404 shapes', () => {
  assert.deepEqual(JSON.parse(modelNotFoundNested('a/b')), {
    error: { message: 'The model `a/b` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
  });
  assert.deepEqual(JSON.parse(modelNotFoundFlat('a/b')), {
    object: 'error',
    message: 'The model `a/b` does not exist.',
    type: 'NotFoundError',
    param: null,
    code: 404,
  });
});

test("vLLM's context-length 400 and the EPP's 503 text", () => {
  const body = JSON.parse(badRequest(contextLengthMessage(2048, 2040, 16)));
  assert.deepEqual(body.error, {
    message:
      "This model's maximum context length is 2048 tokens. However, you requested 2056 tokens (2040 in the messages, 16 in the completion). Please reduce the length of the messages or completion.",
    type: 'BadRequestError',
    param: null,
    code: 400,
  });
  assert.equal(
    EPP_NO_BACKEND_BODY,
    'inference error: ServiceUnavailable - failed to find candidate pods for serving the request',
  );
});

test('the models list has vLLM shape', () => {
  const list = JSON.parse(modelsList([{ name: 'a', contextLength: 2048 }], 1));
  assert.equal(list.object, 'list');
  assert.deepEqual(list.data[0], {
    id: 'a',
    object: 'model',
    created: 1,
    owned_by: 'vllm',
    root: 'a',
    parent: null,
    max_model_len: 2048,
  });
});
