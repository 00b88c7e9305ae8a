import { threePaths } from '../load/clients/three-paths.ts';
import type { Workload } from '../load/clients/types.ts';
import { runOpenPhase } from '../load/phase.ts';
import { startMeter } from '../processes/proc-meter.ts';
import { aggregate } from '../statistics/aggregate.ts';
import { findings, usageOf } from '../statistics/findings.ts';
import type { RunContext, ScenarioResult } from './types.ts';

/**
 * A fixed arrival rate for a duration, both models alternating, the three paths at once: the
 * open-loop view (arrivals do not wait for earlier answers, as in production), where the client
 * loop's sleeps pile up as concurrency instead of slowing the offered load.
 */
export async function sustained(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  const t0 = ctx.now();
  const rate = opts.rate ?? 5;
  const durationS = opts.durationS ?? 30;
  const w: Workload = {
    api: opts.api,
    maxTokens: opts.maxTokens ?? 15,
    stream: false,
    timeoutMs: opts.timeoutMs,
  };
  const gw = await ctx.gateway({ seed: opts.seed, timeScale: opts.timeScale });
  const bs = await ctx.backstop(gw.url);
  const meter = bs.pid ? startMeter(() => [bs.pid as number]) : undefined;
  const samples = await runOpenPhase(
    ctx,
    `sustained: ${rate} req/s per path for ${durationS} s`,
    {
      clients: threePaths(ctx, gw.url, bs.url, w),
      models: opts.models,
    },
    rate,
    durationS * 1000,
  );
  const usage = meter?.stop();
  const stats = aggregate(samples);
  return {
    name: 'sustained',
    title: 'Sustained load',
    summary: `${rate} req/s per path for ${durationS} s (open loop), non-streaming max_tokens ${w.maxTokens}, models alternating.`,
    config: { rate, durationS, maxTokens: w.maxTokens, timeScale: opts.timeScale },
    wallMs: ctx.now() - t0,
    stats,
    samples,
    ratios: [],
    targets: [],
    tables: [],
    findings: findings(stats),
    ...(usage ? { backstopUsage: usageOf(usage, samples.filter((s) => s.path === 'backstop').length) } : {}),
  };
}
