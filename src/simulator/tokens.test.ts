import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedContent, generateTokens } from './content.ts';
import { DEFAULT_MODELS } from './models.ts';
import { promptTokens, textTokens } from './tokens.ts';

const [phi, gemma] = DEFAULT_MODELS;

test('one token per 4 characters, rounded up', () => {
  assert.equal(textTokens(''), 0);
  assert.equal(textTokens('abcd'), 1);
  assert.equal(textTokens('abcde'), 2);
});

test("the report's prompts at max_tokens 15 total 48 tokens on Phi-3 and 40 on Gemma", () => {
  assert.ok(phi && gemma);
  for (const i of [1, 9, 17, 25]) {
    assert.equal(promptTokens(phi, `Request ${i}`) + 15, 48);
    assert.equal(promptTokens(gemma, `Request ${i}`) + 15, 40);
  }
});

test('generated content is deterministic, one word per token, and differs by model', () => {
  const a = expectedContent('m1', 'hello', 15);
  assert.equal(a, expectedContent('m1', 'hello', 15));
  assert.equal(a.split(' ').length, 15);
  assert.notEqual(a, expectedContent('m2', 'hello', 15));
  assert.notEqual(a, expectedContent('m1', 'hello!', 15));
  assert.equal(generateTokens('m1', 'hello', 15).join(''), a);
  assert.ok(expectedContent('m1', 'hello', 20).startsWith(a), 'more tokens extend the same text');
});
