import type { Config } from '../config.ts';
import type { TraceSettings } from './otel-env.ts';
import type { Tracing } from './types.ts';

export { type TraceSettings, traceSettingsFrom } from './otel-env.ts';
export type { AttemptTrace, RequestTrace, Tracing } from './types.ts';

/**
 * Tracing with `settings` (traceSettingsFrom), or `undefined` when they say it is off. The
 * OpenTelemetry SDK is imported here, on demand: a sidecar without tracing never loads it.
 */
export async function loadTracing(
  settings: TraceSettings | undefined,
  config: Config,
  version: string,
  onError: (error: unknown, requestId: string | undefined) => void,
): Promise<Tracing | undefined> {
  if (settings === undefined) return undefined;
  const { createTracing } = await import('./otel.ts');
  return createTracing({
    settings,
    version,
    targets: { gateway: config.upstreamUrl, endpoints: config.modelEndpoints },
    onError,
  });
}
