import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../config.ts';
import { traceSettingsFrom } from './otel-env.ts';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

test('tracing is off unless an OTLP endpoint or exporter is named', () => {
  assert.equal(traceSettingsFrom({}), undefined);
  assert.equal(traceSettingsFrom({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }), undefined);
  assert.equal(traceSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }), undefined);
  assert.ok(traceSettingsFrom(ENDPOINT));
  assert.ok(traceSettingsFrom({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c/v1/traces' }));
  assert.ok(traceSettingsFrom({ OTEL_TRACES_EXPORTER: 'otlp' }));
});

test('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none win over an endpoint', () => {
  assert.equal(traceSettingsFrom({ ...ENDPOINT, OTEL_SDK_DISABLED: 'true' }), undefined);
  assert.equal(traceSettingsFrom({ ...ENDPOINT, OTEL_SDK_DISABLED: 'TRUE' }), undefined);
  assert.ok(traceSettingsFrom({ ...ENDPOINT, OTEL_SDK_DISABLED: 'false' }));
  assert.equal(traceSettingsFrom({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }), undefined);
});

test('the specification defaults', () => {
  assert.deepEqual(traceSettingsFrom(ENDPOINT), {
    sampler: 'parentbased_always_on',
    ratio: 1,
    scheduleDelayMs: 5000,
    maxQueueSize: 2048,
    maxExportBatchSize: 512,
    exportTimeoutMs: 30_000,
  });
});

test('samplers, their ratio and the batch settings are read', () => {
  const settings = traceSettingsFrom({
    ...ENDPOINT,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.25',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_BSP_MAX_QUEUE_SIZE: '64',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512',
  });
  assert.equal(settings?.sampler, 'parentbased_traceidratio');
  assert.equal(settings?.ratio, 0.25);
  assert.equal(settings?.scheduleDelayMs, 100);
  // A batch never exceeds the queue.
  assert.equal(settings?.maxExportBatchSize, 64);
});

test('what backstop cannot honour fails start-up, naming the variable', () => {
  const bad: [Record<string, string>, RegExp][] = [
    [
      { OTEL_TRACES_EXPORTER: 'console' },
      /^OTEL_TRACES_EXPORTER="console" is invalid: expected `otlp` or `none`/,
    ],
    [{ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /^OTEL_EXPORTER_OTLP_PROTOCOL="grpc" is invalid/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318"/],
    [
      { ...ENDPOINT, OTEL_TRACES_SAMPLER: 'sometimes' },
      /^OTEL_TRACES_SAMPLER="sometimes" is invalid: expected one of always_on/,
    ],
    [
      { ...ENDPOINT, OTEL_TRACES_SAMPLER_ARG: '2' },
      /^OTEL_TRACES_SAMPLER_ARG="2" is invalid: expected a ratio/,
    ],
    [
      { ...ENDPOINT, OTEL_BSP_SCHEDULE_DELAY: '0' },
      /^OTEL_BSP_SCHEDULE_DELAY="0" is invalid: expected a positive integer/,
    ],
  ];
  for (const [env, message] of bad) {
    assert.throws(
      () => traceSettingsFrom(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        return true;
      },
    );
  }
  // A common cluster-wide default: accepted, and JSON is what goes out.
  assert.ok(traceSettingsFrom({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }));
  // The traces-specific protocol wins over the general one; enum values take any case.
  assert.ok(
    traceSettingsFrom({
      ...ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'HTTP/JSON',
    }),
  );
  assert.equal(traceSettingsFrom({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'ALWAYS_ON' })?.sampler, 'always_on');
});
