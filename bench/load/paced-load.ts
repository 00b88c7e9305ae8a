import { Pool } from 'undici';
import { cdfPoints, summarize } from '../statistics/stats.ts';
import type { LoadResult } from './autocannon-run.ts';
import { openLoop } from './loops.ts';

/** A fixed-rate run with evenly spaced arrivals. */
export interface PacedSpec {
  url: string;
  models: readonly string[];
  maxTokens: number;
  durationS: number;
  rate: number;
  /** Keep-alive connections the client may open (enough that none waits for a free one). */
  connections: number;
}

/**
 * Sends `rate` requests per second, one every 1/rate s, and times each one. autocannon's
 * `overallRate` is not used for this step: it lets each connection send its whole per-second
 * quota back to back at the start of every second, so at "500 req/s" the relay sees 16-request
 * bursts and the percentiles measure queueing in the burst, not the cost of the hop.
 */
export async function runPacedLoad(spec: PacedSpec): Promise<LoadResult> {
  const pool = new Pool(spec.url, { connections: spec.connections, pipelining: 1, allowH2: false });
  const bodies = spec.models.map((model) =>
    JSON.stringify({ model, prompt: 'Request 0', max_tokens: spec.maxTokens }),
  );
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  try {
    await openLoop(spec.rate, spec.durationS * 1000, async (i) => {
      const t0 = performance.now();
      try {
        const res = await pool.request({
          method: 'POST',
          path: '/v1/completions',
          headers: { 'content-type': 'application/json' },
          body: bodies[i % bodies.length] as string,
        });
        await res.body.dump();
        if (res.statusCode < 300) {
          ok += 1;
          latencies.push(performance.now() - t0);
        } else {
          non2xx += 1;
        }
      } catch {
        errors += 1;
      }
    });
  } finally {
    await pool.close();
  }
  const durationS = (performance.now() - started) / 1000;
  return {
    requests: ok + non2xx + errors,
    ok2xx: ok,
    non2xx,
    errors,
    durationS,
    reqPerSec: ok / durationS,
    latency: summarize(latencies),
    cdf: cdfPoints(latencies),
  };
}
