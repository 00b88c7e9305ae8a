import { backstopClient } from '../bench/load/clients/backstop.ts';
import { directClient } from '../bench/load/clients/direct.ts';
import type { RequestSample } from '../bench/load/clients/types.ts';
import { quickWorkload, runPathsInTurn } from '../bench/scenarios/quick-validation.ts';
import type { RunContext } from '../bench/scenarios/types.ts';
import { percentile } from '../bench/statistics/stats.ts';

/** The two ways the demo reaches the gateway. */
export type DemoPath = 'direct' | 'backstop';

/** One path's figures for one model (or for all models together). */
export interface PathStats {
  requests: number;
  succeeded: number;
  successRate: number;
  /** Upstream attempts: 1 per direct request, backstop's `x-backstop-attempts` through it. */
  attempts: { mean: number; max: number; sum: number; count: number };
  /** Successful requests only: a misrouted 404 answers in milliseconds and says nothing about the model. */
  latencyMs: { p50: number; p95: number };
}

/**
 * The bench's quick validation (bench/scenarios/quick-validation.ts) with two of its paths: its
 * request, its clients and its phases, `direct` to the gateway and then `backstop`, `requests`
 * each with `concurrency` in flight. The client loop and the flapping-off reference are the
 * bench's (`npm run bench`); the demo shows what backstop changes, quickly.
 */
export async function runDemoPaths(
  ctx: RunContext,
  gatewayUrl: string,
  backstopUrl: string,
  requests: number,
  concurrency: number,
): Promise<Map<DemoPath, RequestSample[]>> {
  const w = quickWorkload(ctx.opts);
  const clients = [
    directClient(ctx.dispatcher, gatewayUrl, w, ctx.now),
    backstopClient(ctx.dispatcher, backstopUrl, w, ctx.now),
  ];
  const samples = await runPathsInTurn(ctx, clients, requests, concurrency, (path) => path);
  return new Map(
    (['direct', 'backstop'] as const).map((path) => [path, samples.filter((s) => s.path === path)]),
  );
}

/** Success, attempts and latency (request to last byte) of a set of samples. */
export function pathStats(samples: readonly RequestSample[]): PathStats {
  const attempts = samples.map((s) => s.attempts);
  const sum = attempts.reduce((a, b) => a + b, 0);
  const latencies = samples.filter((s) => s.ok).map((s) => s.e2eMs);
  const succeeded = samples.filter((s) => s.ok).length;
  return {
    requests: samples.length,
    succeeded,
    successRate: samples.length ? succeeded / samples.length : Number.NaN,
    attempts: {
      mean: attempts.length ? sum / attempts.length : Number.NaN,
      max: attempts.length ? Math.max(...attempts) : Number.NaN,
      sum,
      count: attempts.length,
    },
    latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95) },
  };
}
