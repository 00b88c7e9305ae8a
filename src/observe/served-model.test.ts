import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServedModels } from './served-model.ts';

const PHI = 'microsoft/Phi-3-mini-4k-instruct';
const GEMMA = 'google/gemma-2b-it';

test('a wrong-model answer names who answered; a 404 is the only other model that answered, else unknown', () => {
  const served = new ServedModels(undefined, 50);
  // Nothing answered yet: a 404 for Phi-3 cannot say whose pod it was.
  assert.equal(served.observe(PHI, 'model_not_found', undefined), 'unknown');
  assert.equal(served.observe(PHI, 'model_mismatch', GEMMA), GEMMA);
  // Answers and non-misroutes are no misroutes.
  assert.equal(served.observe(PHI, 'ok', undefined), undefined);
  assert.equal(served.observe(PHI, 'upstream_5xx', undefined), undefined);
  // Phi-3 answered, so a 404 for Gemma came from Phi-3's pod; a 404 for Phi-3 still cannot say.
  assert.equal(served.observe(GEMMA, 'model_not_found', undefined), PHI);
  assert.equal(served.observe(PHI, 'model_not_found', undefined), 'unknown');
  served.observe(GEMMA, 'ok', undefined);
  assert.equal(served.observe(PHI, 'model_not_found', undefined), GEMMA);
  // A third model that answered makes a 404 ambiguous again.
  served.observe('llama', 'ok', undefined);
  assert.equal(served.observe(PHI, 'model_not_found', undefined), 'unknown');
});

test('bounded like model: MODELS, or the first names, then other; other never rules itself out', () => {
  const allowed = new ServedModels(new Set([PHI, GEMMA]), 50);
  assert.equal(allowed.observe(PHI, 'model_mismatch', 'some/other-model'), 'other');
  const few = new ServedModels(undefined, 2);
  assert.equal(few.observe('a', 'model_mismatch', 'b'), 'b');
  assert.equal(few.observe('a', 'model_mismatch', 'c'), 'c');
  assert.equal(few.observe('a', 'model_mismatch', 'd'), 'other');
  // Only `other` answered: a 404 for another `other` name may have come from it, or not.
  const crowded = new ServedModels(new Set([PHI]), 50);
  crowded.observe('x', 'ok', undefined);
  assert.equal(crowded.observe(PHI, 'model_not_found', undefined), 'other');
  crowded.observe(PHI, 'ok', undefined);
  assert.equal(crowded.observe('y', 'model_not_found', undefined), 'unknown');
});
