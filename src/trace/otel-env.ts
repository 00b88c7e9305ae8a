import { ConfigError } from '../config.ts';

/** The samplers of the OpenTelemetry environment specification (OTEL_TRACES_SAMPLER). */
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export type SamplerName = (typeof SAMPLERS)[number];

/** What tracing runs with, read from the standard `OTEL_*` variables. */
export interface TraceSettings {
  sampler: SamplerName;
  /** OTEL_TRACES_SAMPLER_ARG, for the ratio samplers; 1 when unset. */
  ratio: number;
  /** OTEL_BSP_SCHEDULE_DELAY: how long finished spans wait before an export, in ms. */
  scheduleDelayMs: number;
  /** OTEL_BSP_MAX_QUEUE_SIZE: spans held for export at most; more are dropped, never queued. */
  maxQueueSize: number;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE. */
  maxExportBatchSize: number;
  /** OTEL_BSP_EXPORT_TIMEOUT, in ms. */
  exportTimeoutMs: number;
}

/**
 * Whether tracing is on, and with what; `undefined` when it is off. Tracing is opt-in: it is on
 * when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
 * or OTEL_TRACES_EXPORTER=otlp, and OTEL_SDK_DISABLED is not `true` nor OTEL_TRACES_EXPORTER
 * `none`. This module imports nothing from OpenTelemetry: with tracing off, the SDK never loads.
 * The exporter reads the endpoint, headers, timeout and compression variables itself.
 * @throws ConfigError naming the variable, as the rest of the configuration does.
 */
export function traceSettingsFrom(env: NodeJS.ProcessEnv): TraceSettings | undefined {
  if (value(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporter = value(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter !== undefined && exporter !== 'otlp') {
    // `console` would write spans to stdout, into the JSON log stream.
    fail(env, 'OTEL_TRACES_EXPORTER', '`otlp` or `none` (backstop exports OTLP over HTTP only)');
  }
  const endpoint =
    value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (exporter === undefined && endpoint === undefined) return undefined;
  // The exporter would fall back to localhost:4318 without a word.
  for (const key of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
    const url = value(env, key);
    if (url !== undefined && !/^https?:$/.test(URL.parse(url)?.protocol ?? ''))
      fail(env, key, 'an http:// or https:// URL, e.g. http://otel-collector:4318');
  }
  // The traces-specific variable wins over the general one. http/protobuf is accepted because it
  // is a common cluster-wide default; what is sent is OTLP/HTTP JSON, which every OTLP/HTTP
  // receiver (the Collector's included) reads too.
  const protocolKey =
    value(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined
      ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = value(env, protocolKey)?.toLowerCase();
  if (protocol !== undefined && protocol !== 'http/json' && protocol !== 'http/protobuf') {
    fail(env, protocolKey, '`http/json` or `http/protobuf` (sent as OTLP/HTTP JSON; gRPC is not supported)');
  }
  // Enum values are case-insensitive in the OpenTelemetry environment specification.
  const sampler = (value(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase() ??
    'parentbased_always_on') as SamplerName;
  if (!SAMPLERS.includes(sampler)) fail(env, 'OTEL_TRACES_SAMPLER', `one of ${SAMPLERS.join(', ')}`);
  const ratioText = value(env, 'OTEL_TRACES_SAMPLER_ARG');
  const ratio = ratioText === undefined ? 1 : Number(ratioText);
  if (!(ratio >= 0 && ratio <= 1)) fail(env, 'OTEL_TRACES_SAMPLER_ARG', 'a ratio between 0 and 1');
  const maxQueueSize = integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048);
  return {
    sampler,
    ratio,
    scheduleDelayMs: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000),
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, integer(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512)),
    exportTimeoutMs: integer(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000),
  };
}

/** An empty variable means unset, as in loadConfig. */
function value(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const text = env[key]?.trim();
  return text === undefined || text === '' ? undefined : text;
}

function integer(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const text = value(env, key);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) fail(env, key, 'a positive integer');
  return n;
}

function fail(env: NodeJS.ProcessEnv, key: string, expected: string): never {
  throw new ConfigError(`${key}=${JSON.stringify(env[key])} is invalid: expected ${expected}`);
}
