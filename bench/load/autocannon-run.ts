import autocannon from 'autocannon';
import { cdfPoints, type Summary, summarize } from '../statistics/stats.ts';

/** One autocannon load run against a completions endpoint, both models alternating per connection. */
export interface LoadSpec {
  url: string;
  models: readonly string[];
  maxTokens: number;
  durationS: number;
  connections: number;
  /** Fixed overall arrival rate (req/s); absent: as fast as the connections go (saturation). */
  overallRate?: number;
  /** `stream: true` requests (SSE); a response counts when its stream has ended. */
  stream?: boolean;
  /** Keep each response time (ms, float) for sub-millisecond percentiles. */
  keepLatencies?: boolean;
}

export interface LoadResult {
  requests: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  durationS: number;
  reqPerSec: number;
  /**
   * From autocannon's own response timings (hrtime, float ms), not its histogram: the histogram
   * stores whole milliseconds, too coarse for a 0.5 ms bar.
   */
  latency: Summary;
  /** The kept latencies as CDF points (empty unless `keepLatencies`). */
  cdf: Array<[number, number]>;
}

/** Runs autocannon and resolves with its counts and, if asked, exact latency percentiles. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${spec.url}/v1/completions`,
        connections: spec.connections,
        duration: spec.durationS,
        // autocannon ends a run at its next sample tick (1 s by default): a smoke-sized step would
        // last a whole second. Only the totals are read, so finer samples change nothing else.
        ...(spec.durationS < 1 ? { sampleInt: 100 } : {}),
        ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
        requests: spec.models.map((model) => ({
          method: 'POST' as const,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model,
            prompt: 'Request 0',
            max_tokens: spec.maxTokens,
            ...(spec.stream ? { stream: true } : {}),
          }),
        })),
      },
      (err, result) => {
        if (err) return reject(err);
        const durationS = result.duration;
        resolve({
          requests: result.requests.total,
          ok2xx: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          durationS,
          reqPerSec: result['2xx'] / durationS,
          latency: summarize(latencies),
          cdf: cdfPoints(latencies),
        });
      },
    );
    if (spec.keepLatencies) {
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        if (status < 300) latencies.push(ms);
      });
    }
  });
}
