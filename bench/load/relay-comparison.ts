import { startMeter } from '../processes/proc-meter.ts';
import type { Progress } from '../scenarios/types.ts';
import { percentile } from '../statistics/stats.ts';
import { type LoadResult, runLoad } from './autocannon-run.ts';
import { runPacedLoad } from './paced-load.ts';

/**
 * The overhead comparison's load (issue 13): each relay under the same four steps, the relays
 * alternated within each step and the order rotated per repetition, so the machine's drift lands
 * on every path alike. Figures are read per step and the report takes each one's median.
 */

/** A path under test: where to send, and which processes are its cost (none for `direct`). */
export interface Relay {
  name: string;
  url: string;
  pids: () => number[];
}

/** The four steps: JSON at saturation, JSON at an even rate, SSE at two connection counts. */
export const STEPS = ['json', 'paced', 'sse', 'sseWide'] as const;
export type Step = (typeof STEPS)[number];

export interface ComparisonSpec {
  models: readonly string[];
  maxTokens: number;
  durationS: number;
  repetitions: number;
  /** Connections of the JSON saturation step. */
  jsonConnections: number;
  /** The even arrival rate of the latency step (req/s). */
  rate: number;
  /** Connections of the two SSE steps. */
  sseConnections: readonly [number, number];
}

/** What one step measured on one path. */
export interface StepFigures {
  /** Answers (2xx) per second: requests for JSON, whole streams for SSE. */
  reqPerSec: number;
  /** The relay's user + system CPU per request (NaN for `direct`, which has no relay). */
  cpuUsPerRequest: number;
  /** The relay's peak RSS during the step (0 for `direct`). */
  peakRssBytes: number;
  /** Its anonymous part at the highest sample (see `memory` in proc-meter.ts). */
  peakAnonBytes: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  /** The latency CDF (the paced step only). */
  cdf: Array<[number, number]>;
}

/** Every step's figures per path, one entry per repetition, in run order. */
export type Comparison = Map<string, Record<Step, StepFigures[]>>;

/** Runs the comparison: a short warm-up per path, then `repetitions` rounds of the four steps. */
export async function compareRelays(
  relays: readonly Relay[],
  spec: ComparisonSpec,
  progress: (label: string) => Progress,
): Promise<Comparison> {
  const results: Comparison = new Map(
    relays.map((r) => [r.name, { json: [], paced: [], sse: [], sseWide: [] }]),
  );
  const warmS = Math.min(1, spec.durationS);
  for (const relay of relays) {
    // JIT and connection pools hot for every path alike before anything is kept.
    const p = progress(`overhead: warm-up, ${relay.name}`);
    await runLoad({ ...load(relay, spec, warmS), connections: 8 });
    await runLoad({ ...load(relay, spec, warmS), connections: 8, stream: true });
    p.end();
  }
  for (let rep = 0; rep < spec.repetitions; rep++) {
    const order = relays.map((_, i) => relays[(i + rep) % relays.length] as Relay);
    for (const step of STEPS) {
      for (const relay of order) {
        const p = progress(`overhead ${rep + 1}/${spec.repetitions}: ${describe(step, spec)}, ${relay.name}`);
        results.get(relay.name)?.[step].push(await measure(step, relay, spec));
        p.end();
      }
    }
  }
  return results;
}

/** The median of one figure over the repetitions. */
export function median(runs: readonly StepFigures[], pick: (f: StepFigures) => number): number {
  const values = runs.map(pick).filter(Number.isFinite);
  return values.length ? percentile(values, 50) : Number.NaN;
}

/** The step as a report names it. */
export function describe(step: Step, spec: ComparisonSpec): string {
  if (step === 'json') return `JSON at saturation, ${spec.jsonConnections} connections`;
  if (step === 'paced') return `JSON at ${spec.rate} req/s`;
  return `SSE at saturation, ${spec.sseConnections[step === 'sse' ? 0 : 1]} connections`;
}

function load(relay: Relay, spec: ComparisonSpec, durationS: number) {
  return { url: relay.url, models: spec.models, maxTokens: spec.maxTokens, durationS };
}

async function measure(step: Step, relay: Relay, spec: ComparisonSpec): Promise<StepFigures> {
  const meter = startMeter(relay.pids, 200, { resetPeaks: true });
  let run: LoadResult;
  if (step === 'paced') {
    // Up to 64 connections: at an even 2,000 req/s none should wait for a free one.
    run = await runPacedLoad({ ...load(relay, spec, spec.durationS), rate: spec.rate, connections: 64 });
  } else {
    const connections = step === 'json' ? spec.jsonConnections : spec.sseConnections[step === 'sse' ? 0 : 1];
    run = await runLoad({
      ...load(relay, spec, spec.durationS),
      connections,
      stream: step !== 'json',
    });
  }
  const usage = meter.stop();
  const measured = relay.pids().length > 0 && run.requests > 0;
  return {
    reqPerSec: run.reqPerSec,
    cpuUsPerRequest: measured ? (usage.cpuSeconds * 1e6) / run.requests : Number.NaN,
    peakRssBytes: usage.peakRssBytes,
    peakAnonBytes: usage.peakAnonBytes,
    p50Ms: step === 'paced' ? run.latency.p50 : Number.NaN,
    p99Ms: step === 'paced' ? run.latency.p99 : Number.NaN,
    failed: run.non2xx + run.errors,
    cdf: step === 'paced' ? run.cdf : [],
  };
}
