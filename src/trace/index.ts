import type { Config } from '../config.ts';
import { traceSettingsFrom } from './otel-env.ts';
import type { Tracing } from './types.ts';

export { type TraceSettings, traceSettingsFrom } from './otel-env.ts';
export type { AttemptTrace, RequestTrace, Tracing } from './types.ts';

/**
 * Tracing as the `OTEL_*` environment asks for it, or `undefined` when it is off. The
 * OpenTelemetry SDK is imported here, on demand: a sidecar without tracing never loads it.
 * @throws ConfigError for an invalid `OTEL_*` variable.
 */
export async function loadTracing(
  env: NodeJS.ProcessEnv,
  config: Config,
  version: string,
  onError: (error: unknown, requestId: string | undefined) => void,
): Promise<Tracing | undefined> {
  const settings = traceSettingsFrom(env);
  if (settings === undefined) return undefined;
  const { createTracing } = await import('./otel.ts');
  return createTracing({
    settings,
    version,
    targets: { gateway: config.upstreamUrl, endpoints: config.modelEndpoints },
    onError,
  });
}
