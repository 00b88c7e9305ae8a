import type { Usage } from '../processes/proc-meter.ts';
import { fmtMsProse, fmtPct, shortModel } from '../reports/format.ts';
import type { PathModelStats } from './aggregate.ts';
import { ratio } from './stats.ts';

/** backstop's measured CPU and RSS, with CPU per request. */
export function usageOf(
  usage: Usage,
  requests: number,
): Usage & { requests: number; cpuUsPerRequest: number } {
  return {
    ...usage,
    requests,
    cpuUsPerRequest: requests > 0 ? (usage.cpuSeconds * 1e6) / requests : Number.NaN,
  };
}

/**
 * The "Key findings" of a path comparison, in the report's order: success with and without
 * retries, what the retries cost, and what the report's own TTFT left out.
 */
export function findings(stats: readonly PathModelStats[]): string[] {
  const out: string[] = [];
  const of = (path: string) => stats.filter((s) => s.path === path);
  const direct = of('direct');
  if (direct.length > 0) {
    out.push(
      `Without retries (direct), success was ${direct.map((s) => `${fmtPct(s.successRate)} for ${shortModel(s.model)}`).join(' and ')}: ` +
        'what a naive client of the gateway sees.',
    );
  }
  for (const path of ['client-loop', 'backstop']) {
    const list = of(path);
    if (list.length === 0) continue;
    out.push(
      `${path}: ${list
        .map(
          (s) =>
            `${fmtPct(s.successRate)} success for ${shortModel(s.model)} (mean ${s.attemptsMean.toFixed(1)}, max ${s.attemptsMax} attempts)`,
        )
        .join('; ')}.`,
    );
  }
  for (const bs of of('backstop')) {
    const loop = stats.find((s) => s.path === 'client-loop' && s.model === bs.model);
    if (!loop) continue;
    const speedup = ratio(loop.ttft.p95, bs.ttft.p95);
    out.push(
      `${shortModel(bs.model)}: backstop's TTFT p95 is ${fmtMsProse(bs.ttft.p95)} against the client loop's ${fmtMsProse(loop.ttft.p95)} ` +
        `(${Number.isFinite(speedup) ? `${speedup.toFixed(1)}x faster` : 'not comparable'}): the loop sleeps between attempts; ` +
        'backstop retries a fast 404 or wrong-model answer after a short jittered backoff.',
    );
    if (loop.attemptsMean > 1.05 && Number.isFinite(loop.lastAttemptTtft.p95)) {
      out.push(
        `${shortModel(bs.model)}: timed the report's way (last attempt only) the client loop's TTFT p95 would read ` +
          `${fmtMsProse(loop.lastAttemptTtft.p95)}; the user waited ${fmtMsProse(loop.ttft.p95)}. The report's TTFT left out the retries.`,
      );
    }
  }
  return out;
}
