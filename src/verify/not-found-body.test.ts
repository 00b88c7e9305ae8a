import assert from 'node:assert/strict';
import { test } from 'node:test';
import { namesRequestedModel, quotesModel } from './not-found-body.ts';

const nested = (message: string) =>
  Buffer.from(JSON.stringify({ error: { message, type: 'NotFoundError', param: 'model', code: 404 } }));
const flat = (message: string) =>
  Buffer.from(JSON.stringify({ object: 'error', message, type: 'NotFoundError', param: null, code: 404 }));

test('a not-found names the requested model only when its backtick-quoted name is that model', () => {
  for (const shape of [nested, flat]) {
    assert.equal(namesRequestedModel(shape('The model `phi` does not exist.'), 'phi'), true);
    // Issue 10: a substring is another model, a real not-found to pass through, not a routing miss.
    assert.equal(namesRequestedModel(shape('The model `phi-3` does not exist.'), 'phi'), false);
    assert.equal(namesRequestedModel(shape('The model `microsoft/phi` does not exist.'), 'phi'), false);
    assert.equal(namesRequestedModel(shape('The model `phi` does not exist.'), 'ph'), false);
    assert.equal(namesRequestedModel(shape('The model phi does not exist.'), 'phi'), false);
  }
});

test('names with regex or quoting characters, and other quoted words in the message', () => {
  const model = 'org/model.v1+[x](y)*';
  assert.equal(namesRequestedModel(nested(`The model \`${model}\` does not exist.`), model), true);
  assert.equal(namesRequestedModel(nested('The model `org/modelXv1+[x](y)*` does not exist.'), model), false);
  assert.equal(quotesModel('Use `a` or `b`; the model `c` does not exist.', 'c'), true);
  assert.equal(quotesModel('Use `a` or `b`; the model `c` does not exist.', 'a b'), false);
  assert.equal(quotesModel('The model `` does not exist.', ''), true, 'an empty name quoted is that name');
  assert.equal(quotesModel('no quotes at all', ''), false);
});
