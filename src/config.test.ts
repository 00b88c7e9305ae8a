import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from './config.ts';

const base = { UPSTREAM_URL: 'http://gateway.llm-d.svc' };

test('defaults are the documented ones', () => {
  const c = loadConfig(base);
  assert.equal(c.upstreamUrl.href, 'http://gateway.llm-d.svc/');
  assert.deepEqual(
    [c.host, c.port, c.adminPort, c.logLevel, c.models, c.modelAliases.size],
    ['0.0.0.0', 8080, 9090, 'info', undefined, 0],
  );
  assert.deepEqual(
    [
      c.retryMaxAttempts,
      c.retryBaseDelayMs,
      c.retryMaxDelayMs,
      c.retryDeadlineMs,
      c.attemptTimeoutMs,
      c.maxBodyBytes,
    ],
    [10, 50, 2000, 25_000, 60_000, 1_048_576],
  );
  assert.deepEqual(
    [c.breakerFailureThreshold, c.breakerCooldownMs, c.retryBudgetRatio, c.retryBudgetMinPerSec],
    [5, 10_000, 2, 10],
  );
  assert.deepEqual(
    [c.shutdownDelayMs, c.shutdownGraceMs, c.metricsMaxModels, c.misrouteWarnIntervalMs],
    [5000, 30_000, 50, 60_000],
  );
  assert.ok(Object.isFrozen(c));
});

test('lists and aliases parse; empty values mean unset', () => {
  const c = loadConfig({
    ...base,
    MODELS: ' microsoft/Phi-3-mini-4k-instruct , google/gemma-2b-it ,',
    MODEL_ALIASES: 'phi3=microsoft/Phi-3-mini-4k-instruct,phi3=phi3-lora, gemma=google/gemma-2b-it',
    PORT: '',
  });
  assert.deepEqual([...(c.models ?? [])], ['microsoft/Phi-3-mini-4k-instruct', 'google/gemma-2b-it']);
  assert.deepEqual(c.modelAliases.get('phi3'), ['microsoft/Phi-3-mini-4k-instruct', 'phi3-lora']);
  assert.deepEqual(c.modelAliases.get('gemma'), ['google/gemma-2b-it']);
  assert.equal(c.port, 8080);
});

test('a bad value is one line naming the variable, the value and what is expected', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /^UPSTREAM_URL is not set: expected /],
    [{ UPSTREAM_URL: 'gateway:80' }, /^UPSTREAM_URL="gateway:80" is invalid: expected an absolute http/],
    [{ UPSTREAM_URL: 'ftp://x' }, /^UPSTREAM_URL="ftp:\/\/x" is invalid/],
    [{ ...base, PORT: '80a' }, /^PORT="80a" is invalid: expected an integer between 0 and 65535$/],
    [{ ...base, PORT: '70000' }, /^PORT="70000" is invalid/],
    [
      { ...base, RETRY_MAX_ATTEMPTS: '0' },
      /^RETRY_MAX_ATTEMPTS="0" is invalid: expected an integer between 1 and 100$/,
    ],
    [{ ...base, LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud" is invalid: expected one of fatal, error/],
    [
      { ...base, MODEL_ALIASES: 'phi3' },
      /^MODEL_ALIASES="phi3" is invalid: expected a comma-separated list of alias=served-name/,
    ],
    [
      { ...base, RETRY_BUDGET_RATIO: '-1' },
      /^RETRY_BUDGET_RATIO="-1" is invalid: expected a non-negative number$/,
    ],
    [{ ...base, ROUTING_HEADERS: 'yes' }, /^ROUTING_HEADERS="yes" is invalid: expected true or false$/],
    [
      { ...base, MISROUTE_WARN_INTERVAL_MS: '50' },
      /^MISROUTE_WARN_INTERVAL_MS="50" is invalid: expected an integer between 100 and 86400000$/,
    ],
    [
      { ...base, ROUTING_HEADER_NAME: 'X Model' },
      /^ROUTING_HEADER_NAME="X Model" is invalid: expected an HTTP header name/,
    ],
    [{ ...base, ROUTING_HEADER_NAME: 'x-model:' }, /^ROUTING_HEADER_NAME="x-model:" is invalid/],
    [
      { ...base, ROUTING_HEADER_NAME: 'Authorization' },
      /^ROUTING_HEADER_NAME="Authorization" is invalid: expected a header name backstop does not set/,
    ],
    [{ ...base, ROUTING_HEADER_NAME: 'X-Gateway-Base-Model-Name' }, /^ROUTING_HEADER_NAME=.* is invalid/],
    [
      { ...base, BASE_MODELS: 'my-lora' },
      /^BASE_MODELS="my-lora" is invalid: expected a comma-separated list of model=base-model pairs$/,
    ],
    [
      { ...base, BASE_MODELS: 'my-lora=llama,my-lora=phi' },
      /^BASE_MODELS=.* is invalid: expected one base model per name \(my-lora has two\)$/,
    ],
    // Each MODEL_ENDPOINTS URL is checked as UPSTREAM_URL is (issue 11).
    [
      { ...base, MODEL_ENDPOINTS: 'phi=ftp://vllm' },
      /^MODEL_ENDPOINTS=.* is invalid: expected a comma-separated list of model=url pairs, each url an absolute http/,
    ],
    [{ ...base, MODEL_ENDPOINTS: 'phi=http://u:p@vllm' }, /^MODEL_ENDPOINTS=.* is invalid/],
    [{ ...base, MODEL_ENDPOINTS: 'http://vllm' }, /^MODEL_ENDPOINTS=.* is invalid/],
    [{ ...base, MODEL_ENDPOINTS: 'phi=http://a,phi=http://b' }, /one endpoint per model \(phi has two\)/],
    [{ ...base, FALLBACK_AFTER_MISROUTES: '0' }, /^FALLBACK_AFTER_MISROUTES="0" is invalid/],
    [
      { ...base, RETRY_BASE_DELAY_MS: '500', RETRY_MAX_DELAY_MS: '100' },
      /^RETRY_MAX_DELAY_MS="100" is invalid: expected at least/,
    ],
  ];
  for (const [env, expected] of cases) {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, expected);
        assert.ok(!error.message.includes('\n'));
        return true;
      },
    );
  }
});

test('routing headers: on by default as X-Gateway-Model-Name; BASE_MODELS parse; the name can change', () => {
  const c = loadConfig(base);
  assert.deepEqual(
    [c.routingHeaders, c.routingHeaderName, c.baseModels.size],
    [true, 'X-Gateway-Model-Name', 0],
  );
  const set = loadConfig({
    ...base,
    ROUTING_HEADERS: 'false',
    ROUTING_HEADER_NAME: ' x-model ',
    BASE_MODELS:
      ' support-lora = meta-llama/Llama-3.1-8B-Instruct ,, support-lora=meta-llama/Llama-3.1-8B-Instruct',
  });
  assert.deepEqual(
    [set.routingHeaders, set.routingHeaderName, [...set.baseModels]],
    [false, 'x-model', [['support-lora', 'meta-llama/Llama-3.1-8B-Instruct']]],
  );
});

test('MODEL_ENDPOINTS: model=url pairs, a path kept; FALLBACK_AFTER_MISROUTES defaults to 3', () => {
  const base = { UPSTREAM_URL: 'http://gw' };
  const none = loadConfig(base);
  assert.equal(none.modelEndpoints.size, 0);
  assert.equal(none.fallbackAfterMisroutes, 3);
  const c = loadConfig({
    ...base,
    MODEL_ENDPOINTS: ' org/phi = http://vllm-phi:8000 , gemma=https://vllm-gemma/base/,',
    FALLBACK_AFTER_MISROUTES: '5',
  });
  assert.deepEqual(
    [...c.modelEndpoints].map(([m, u]) => [m, u.href]),
    [
      ['org/phi', 'http://vllm-phi:8000/'],
      ['gemma', 'https://vllm-gemma/base/'],
    ],
  );
  assert.equal(c.fallbackAfterMisroutes, 5);
});

test('CONFIG_VARIABLES lists every variable read', () => {
  for (const name of ['UPSTREAM_URL', 'MODELS', 'MODEL_ALIASES', 'RETRY_BUDGET_RATIO', 'SHUTDOWN_GRACE_MS']) {
    assert.ok(CONFIG_VARIABLES.includes(name), name);
  }
});
