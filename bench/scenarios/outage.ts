import { threePaths } from '../load/clients/three-paths.ts';
import type { RequestSample, Workload } from '../load/clients/types.ts';
import { runOpenPhase } from '../load/phase.ts';
import { fmtMsProse, shortModel } from '../reports/format.ts';
import { aggregate } from '../statistics/aggregate.ts';
import { summarize } from '../statistics/stats.ts';
import { skipped } from './skipped.ts';
import type { RunContext, ScenarioResult, Table } from './types.ts';

/**
 * One model down (its backend never visible) for the first half of the run, back for the second,
 * the other model flapping as usual; each path at a fixed arrival rate. Shows what backstop's
 * breaker and retry budget buy: the down model fails fast and costs the gateway few extra
 * requests, the healthy model is untouched, and traffic recovers after the backend returns.
 */
export async function outage(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  if (opts.gateway)
    return skipped('outage', 'Outage: one model down', 'needs the embedded simulator to take a model down');
  const t0 = ctx.now();
  const down = opts.models[0] as string;
  const rate = opts.rate ?? 4;
  const durationMs = (opts.durationS ?? 30) * 1000;
  const half = durationMs / 2;
  const w: Workload = {
    api: opts.api,
    maxTokens: opts.maxTokens ?? 15,
    stream: false,
    timeoutMs: opts.timeoutMs,
  };
  const gw = await ctx.gateway({ seed: opts.seed, timeScale: opts.timeScale, faults: { outage: [down] } });
  const sim = gw.sim;
  if (!sim) return skipped('outage', 'Outage: one model down', 'needs the embedded simulator');
  const bs = await ctx.backstop(gw.url);
  const restore = setTimeout(() => void sim.setFaults({ outage: [] }), half);
  let samples: RequestSample[];
  try {
    samples = await runOpenPhase(
      ctx,
      `outage: ${shortModel(down)} down for ${half / 1000} s, then back`,
      {
        clients: threePaths(ctx, gw.url, bs.url, w),
        models: opts.models,
      },
      rate,
      durationMs,
    );
  } finally {
    clearTimeout(restore);
  }
  const rows: Table['rows'] = [];
  const findings: string[] = [];
  for (const path of ['direct', 'client-loop', 'backstop'] as const) {
    for (const model of opts.models) {
      const mine = samples.filter((s) => s.path === path && s.model === model);
      for (const [label, part] of [
        ['outage', mine.filter((s) => s.startMs < half)],
        ['after', mine.filter((s) => s.startMs >= half)],
      ] as const) {
        const failed = part.filter((s) => !s.ok);
        const attempts = part.reduce((sum, s) => sum + s.attempts, 0);
        rows.push([
          path,
          shortModel(model),
          label,
          part.length,
          `${part.length ? ((100 * (part.length - failed.length)) / part.length).toFixed(0) : 'n/a'}%`,
          attempts,
          part.length ? (attempts / part.length).toFixed(2) : 'n/a',
          fmtMsProse(summarize(failed.map((s) => s.e2eMs)).p50),
          fmtMsProse(summarize(part.filter((s) => s.ok).map((s) => s.e2eMs)).p95),
        ]);
      }
    }
    const firstOk = samples
      .filter((s) => s.path === path && s.model === down && s.ok && s.startMs >= half)
      .sort((a, b) => a.startMs - b.startMs)[0];
    findings.push(
      `${path}: first success for ${shortModel(down)} ${firstOk ? `${fmtMsProse(firstOk.startMs - half)} after it came back` : 'never, within the run'}.`,
    );
  }
  const stats = await sim.stats();
  return {
    name: 'outage',
    title: `Outage: ${shortModel(down)} down, then back`,
    summary:
      `${shortModel(down)} is down (never visible to the EPP) for ${half / 1000} s, then restored for ${half / 1000} s; ` +
      `the other model flaps as usual. Each path sends ${rate} req/s, models alternating.`,
    config: {
      down,
      rate,
      durationS: durationMs / 1000,
      timeScale: opts.timeScale,
      loopSleepMs: opts.loopSleepMs,
    },
    wallMs: ctx.now() - t0,
    stats: aggregate(samples),
    samples,
    ratios: [],
    targets: [],
    tables: [
      {
        title: 'Before and after the backend returns',
        columns: [
          'path',
          'model',
          'phase',
          'requests',
          'success',
          'upstream attempts',
          'attempts/request',
          'failure latency p50',
          'success e2e p95',
        ],
        rows,
        note: `"upstream attempts" is what each path cost the gateway (backstop: its x-backstop-attempts). The simulator counted ${JSON.stringify((stats as { received?: number }).received ?? 'n/a')} requests in all.`,
      },
    ],
    findings,
  };
}
