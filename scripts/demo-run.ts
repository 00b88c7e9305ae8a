import type { Dispatcher } from 'undici';
import { sendAttempt } from '../bench/load/clients/attempt.ts';
import type { Workload } from '../bench/load/clients/types.ts';
import { percentile } from '../bench/statistics/stats.ts';

/** The two ways the demo reaches the gateway. */
export type DemoPath = 'direct' | 'backstop';

/** What one demo request measured. */
export interface DemoSample {
  model: string;
  /** 200 and the `model` asked for: the seed client's success test, applied to both paths. */
  ok: boolean;
  /** 1 for direct requests; backstop's `x-backstop-attempts`, or undefined if the answer had none. */
  attempts: number | undefined;
  /** Request sent to last byte received, ms. */
  latencyMs: number;
}

/** One path's figures for one model (or for all models together). */
export interface PathStats {
  requests: number;
  succeeded: number;
  successRate: number;
  /** Over the requests whose answer said how many attempts it took (all of them, normally). */
  attempts: { mean: number; max: number; sum: number; count: number };
  /** Successful requests only: a misrouted 404 answers in milliseconds and says nothing about the model. */
  latencyMs: { p50: number; p95: number };
}

/** The completions request of the seed's script: `prompt: "Request <i>"`, not streamed. */
export const DEMO_WORKLOAD: Workload = {
  api: 'completions',
  maxTokens: 15,
  stream: false,
  timeoutMs: 25_000,
};

export interface RunPathOptions {
  dispatcher: Dispatcher;
  baseUrl: string;
  path: DemoPath;
  /** Request i (from 1) asks for models[(i - 1) % models.length]. */
  models: readonly string[];
  requests: number;
  /** Requests kept in flight. */
  concurrency: number;
  onDone?: (sample: DemoSample) => void;
}

/** Sends `requests` requests through one path, `concurrency` at a time; samples in request order. */
export async function runPath(o: RunPathOptions): Promise<DemoSample[]> {
  const samples: DemoSample[] = new Array(o.requests);
  let next = 0;
  const worker = async () => {
    while (next < o.requests) {
      const index = next++;
      const model = o.models[index % o.models.length] as string;
      const a = await sendAttempt(o.dispatcher, o.baseUrl, model, index + 1, DEMO_WORKLOAD);
      const sample: DemoSample = {
        model,
        ok: a.status === 200 && a.error === undefined && a.servedModel === model,
        attempts: o.path === 'direct' ? 1 : a.attemptsHeader,
        latencyMs: a.endMs - a.startMs,
      };
      samples[index] = sample;
      o.onDone?.(sample);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.requests) }, worker));
  return samples;
}

/** Success, attempts and latency of a set of samples. */
export function pathStats(samples: readonly DemoSample[]): PathStats {
  const attempts = samples.flatMap((s) => (s.attempts === undefined ? [] : [s.attempts]));
  const sum = attempts.reduce((a, b) => a + b, 0);
  const latencies = samples.filter((s) => s.ok).map((s) => s.latencyMs);
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
