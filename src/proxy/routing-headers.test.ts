import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE_MODEL_HEADER, baseModelsOf, routingHeadersOf, setRoutingHeaders } from './routing-headers.ts';

const LLAMA = 'meta-llama/Llama-3.1-8B-Instruct';
const PHI = 'microsoft/Phi-3-mini-4k-instruct';

test('base models: BASE_MODELS as given, plus unambiguous MODEL_ALIASES, explicit entries first', () => {
  const explicit = new Map([
    ['support-lora', LLAMA],
    ['pinned', 'pinned-base'],
  ]);
  const aliases = new Map([
    // One served name: its base is that name.
    ['phi', [PHI]],
    // An alias of an adapter: the adapter's base.
    ['support', ['support-lora']],
    // Two served names may be two pods: ambiguous, no base.
    ['multi', ['model-a', 'model-b']],
    // The same name twice is still one.
    ['twice', [PHI, PHI]],
    // Accepting itself says nothing about a base.
    ['self', ['self']],
    // BASE_MODELS wins over the alias.
    ['pinned', [PHI]],
  ]);
  assert.deepEqual(Object.fromEntries(baseModelsOf(explicit, aliases)), {
    'support-lora': LLAMA,
    pinned: 'pinned-base',
    phi: PHI,
    support: LLAMA,
    twice: PHI,
  });
});

const routing = routingHeadersOf({
  routingHeaders: true,
  routingHeaderName: 'X-Gateway-Model-Name',
  baseModels: new Map([['support-lora', LLAMA]]),
  modelAliases: new Map(),
});

test('the client values are replaced, not appended to; a base header only when a base is known', () => {
  const spoofed = () => ({
    'x-gateway-model-name': ['google/gemma-2b-it', 'other'],
    [BASE_MODEL_HEADER]: 'google/gemma-2b-it',
    authorization: 'Bearer sk',
  });
  assert.deepEqual(setRoutingHeaders(spoofed(), routing, PHI), {
    'x-gateway-model-name': PHI,
    authorization: 'Bearer sk',
  });
  assert.deepEqual(setRoutingHeaders(spoofed(), routing, 'support-lora'), {
    'x-gateway-model-name': 'support-lora',
    [BASE_MODEL_HEADER]: LLAMA,
    authorization: 'Bearer sk',
  });
  // No model read from the body (GET /v1/models): the request goes as the client sent it.
  assert.deepEqual(setRoutingHeaders(spoofed(), routing, undefined), spoofed());
});

test('a model that cannot be a header value gets no header, and the client value is still removed', () => {
  for (const model of ['bad\nname', 'modèle', ' padded', 'tab\t', '']) {
    assert.deepEqual(setRoutingHeaders({ 'x-gateway-model-name': 'x', a: 'b' }, routing, model), { a: 'b' });
  }
  assert.deepEqual(setRoutingHeaders({}, routing, 'inner space ok'), {
    'x-gateway-model-name': 'inner space ok',
  });
});

test('off: nothing is set or removed; renamed: the configured name, lower-cased', () => {
  const off = routingHeadersOf({
    routingHeaders: false,
    routingHeaderName: 'X-Gateway-Model-Name',
    baseModels: new Map([['support-lora', LLAMA]]),
    modelAliases: new Map(),
  });
  const sent = { 'x-gateway-model-name': 'client', [BASE_MODEL_HEADER]: 'client-base' };
  assert.deepEqual(setRoutingHeaders({ ...sent }, off, 'support-lora'), sent);
  const renamed = routingHeadersOf({
    routingHeaders: true,
    routingHeaderName: 'X-Model',
    baseModels: new Map(),
    modelAliases: new Map(),
  });
  assert.deepEqual(setRoutingHeaders({ 'x-model': 'client' }, renamed, PHI), { 'x-model': PHI });
});
