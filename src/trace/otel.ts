import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, type TextMapGetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from './attributes.ts';
import type { TraceSettings } from './otel-env.ts';
import { OtelRequestTrace, type TraceErrorHandler, type TraceTargets } from './spans.ts';
import type { Tracing } from './types.ts';

/** Longest attribute value, in characters (a model name is at most 256). */
const MAX_ATTRIBUTE_LENGTH = 512;

/** How long the last export may take at shutdown. */
const SHUTDOWN_EXPORT_MS = 2000;

export interface TracingOptions {
  settings: TraceSettings;
  version: string;
  targets: TraceTargets;
  /** Logs a bug in the tracing code; the request goes on untraced. */
  onError: TraceErrorHandler;
}

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/**
 * Tracing with the OpenTelemetry SDK, exported as OTLP/HTTP JSON in batches. There is no global
 * context manager: each span's parent is passed explicitly, which keeps AsyncLocalStorage off the
 * request path. The client's `traceparent` is continued; each attempt sends its own.
 */
export async function createTracing(options: TracingOptions): Promise<Tracing> {
  const { settings } = options;
  const detected = detectResources({ detectors: [envDetector] });
  await detected.waitForAsyncAttributes?.();
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over backstop's own defaults.
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: 'backstop',
    [ATTR_SERVICE_VERSION]: options.version,
  }).merge(detected);
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(settings),
    // Attribute values come from upstream answers too (a response id, a served model name): they
    // are cut here, or a hostile upstream's 4 MiB `id` would sit in the batch queue for seconds.
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_LENGTH },
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter(),
        scheduledDelayMillis: settings.scheduleDelayMs,
        maxQueueSize: settings.maxQueueSize,
        maxExportBatchSize: settings.maxExportBatchSize,
        exportTimeoutMillis: settings.exportTimeoutMs,
      }),
    ],
  });
  const tracer = provider.getTracer('backstop', options.version);
  const propagator = new W3CTraceContextPropagator();
  return {
    startRequest: (method, headers) => {
      const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      const span = tracer.startSpan(
        method,
        { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method } },
        parent,
      );
      const context = trace.setSpan(parent, span);
      return new OtelRequestTrace(
        tracer,
        propagator,
        options.targets,
        method,
        span,
        context,
        options.onError,
      );
    },
    // Bounded: an unreachable collector must not hold a draining pod past its grace period.
    shutdown: () => Promise.race([provider.shutdown(), sleep(SHUTDOWN_EXPORT_MS, undefined, { ref: false })]),
  };
}

function samplerOf(settings: TraceSettings): Sampler {
  const ratio = new TraceIdRatioBasedSampler(settings.ratio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
