import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCompletionRequest } from './request.ts';

test('chat: messages are joined with newlines; vLLM defaults apply', () => {
  const result = parseCompletionRequest(
    'chat',
    JSON.stringify({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [{ type: 'text', text: 'Hi' }, { type: 'image_url' }, { type: 'text', text: '!' }],
        },
      ],
    }),
  );
  assert.deepEqual(result, {
    ok: true,
    request: {
      endpoint: 'chat',
      model: 'm',
      prompt: 'Be brief.\nHi!',
      maxTokens: 16,
      stream: false,
      includeUsage: false,
    },
  });
});

test('completion: prompt, max_tokens, stream and include_usage', () => {
  const result = parseCompletionRequest(
    'completion',
    '{"model":"m","prompt":"Request 1","max_tokens":15,"stream":true,"stream_options":{"include_usage":true}}',
  );
  assert.ok(result.ok);
  assert.equal(result.request.prompt, 'Request 1');
  assert.equal(result.request.maxTokens, 15);
  assert.equal(result.request.includeUsage, true);
});

test('max_completion_tokens counts for chat', () => {
  const result = parseCompletionRequest(
    'chat',
    '{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":5}',
  );
  assert.ok(result.ok);
  assert.equal(result.request.maxTokens, 5);
});

test('invalid requests get a message for the 400', () => {
  for (const [endpoint, body] of [
    ['chat', '{not json'],
    ['chat', '[]'],
    ['chat', '{"messages":[{"role":"user","content":"x"}]}'],
    ['chat', '{"model":"m","messages":[]}'],
    ['completion', '{"model":"m"}'],
    ['completion', '{"model":"m","prompt":"x","max_tokens":0}'],
    ['completion', '{"model":"m","prompt":"x","max_tokens":1.5}'],
    ['completion', '{"model":"m","prompt":"x","stream":"yes"}'],
  ] as const) {
    const result = parseCompletionRequest(endpoint, body);
    assert.equal(result.ok, false, body);
  }
});
