import { backstopClient } from '../load/clients/backstop.ts';
import { threePaths } from '../load/clients/three-paths.ts';
import type { PathClient, RequestSample, Workload } from '../load/clients/types.ts';
import { runClosedPhase } from '../load/phase.ts';
import type { BenchOptions } from '../options.ts';
import { startMeter } from '../processes/proc-meter.ts';
import { aggregate } from '../statistics/aggregate.ts';
import { findings, usageOf } from '../statistics/findings.ts';
import { retryTax } from '../statistics/retry-tax.ts';
import type { RunContext, ScenarioResult } from './types.ts';

/** The size of the report's test: 50 requests per path, 10 in flight (see below), max_tokens 15. */
export const QUICK_VALIDATION = { requests: 50, concurrency: 10, maxTokens: 15 } as const;

/** The report's request: a non-streaming completion (or chat, `--api`), max_tokens 15 unless `--max-tokens`. */
export function quickWorkload(opts: BenchOptions): Workload {
  return {
    api: opts.api,
    maxTokens: opts.maxTokens ?? QUICK_VALIDATION.maxTokens,
    stream: false,
    timeoutMs: opts.timeoutMs,
  };
}

/**
 * Sends `requests` requests through each client, alternating over the models with `concurrency`
 * in flight, one path after another: the simulator's endpoint picker reads the pods' load, so
 * paths sharing it would change each other's odds. `label` names each path's progress line.
 * `npm run demo` runs its two paths through this too.
 */
export async function runPathsInTurn(
  ctx: RunContext,
  clients: readonly PathClient[],
  requests: number,
  concurrency: number,
  label: (path: string) => string = (path) => `quick_validation, ${path}`,
): Promise<RequestSample[]> {
  const samples: RequestSample[] = [];
  for (const client of clients) {
    samples.push(
      ...(await runClosedPhase(ctx, label(client.name), {
        clients: [client],
        requests,
        concurrency,
        models: ctx.opts.models,
      })),
    );
  }
  return samples;
}

/**
 * The report's test: 50 non-streaming requests, 25 per model, max_tokens 15, through each path.
 * The report's script sent one request at a time; at 2 s per attempt and 2 s loop sleeps that takes
 * minutes, so each path keeps `concurrency` (default 10) requests in flight. The paths run one
 * after another (`runPathsInTurn`). On the embedded simulator a last phase repeats `backstop` with
 * misroutes off at the same load: the reference for the retry tax (issue 9: at most 1.05x).
 */
export async function quickValidation(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  const requests = opts.requests ?? QUICK_VALIDATION.requests;
  const concurrency = opts.concurrency ?? QUICK_VALIDATION.concurrency;
  const w = quickWorkload(opts);
  const gw = await ctx.gateway({ seed: opts.seed, timeScale: opts.timeScale });
  const bs = await ctx.backstop(gw.url);
  const t0 = ctx.now();

  const meter = bs.pid ? startMeter(() => [bs.pid as number]) : undefined;
  const samples = await runPathsInTurn(ctx, threePaths(ctx, gw.url, bs.url, w), requests, concurrency);
  const usage = meter?.stop();

  if (gw.sim) {
    await gw.sim.setFaults({ flapping: false });
    const reference = await runClosedPhase(ctx, 'reference (backstop, misroutes off)', {
      clients: [backstopClient(ctx.dispatcher, bs.url, w, ctx.now, 'reference')],
      requests,
      concurrency,
      models: opts.models,
    });
    await gw.sim.setFaults({ flapping: true });
    samples.push(...reference);
  }

  const stats = aggregate(samples);
  const tax = retryTax(stats, opts.models, gw.sim ? 'reference' : 'direct', concurrency);
  const backstopRequests = samples.filter((s) => s.path === 'backstop').length;
  return {
    name: 'quick_validation',
    title: "Quick validation (the report's test)",
    summary:
      `${requests} non-streaming requests per path (${Math.ceil(requests / opts.models.length)} per model), ` +
      `max_tokens ${w.maxTokens}, ${concurrency} in flight per path, one path after another against ` +
      `${gw.sim ? `the embedded simulator (seed ${opts.seed}, time scale ${opts.timeScale})` : gw.url}. ` +
      `client-loop: check model, sleep ${opts.loopSleepMs} ms, up to 10 attempts.`,
    config: {
      requests,
      concurrency,
      maxTokens: w.maxTokens,
      gateway: gw.sim ? 'embedded simulator' : gw.url,
      seed: opts.seed,
      timeScale: opts.timeScale,
      loopSleepMs: opts.loopSleepMs,
    },
    wallMs: ctx.now() - t0,
    stats,
    samples,
    ratios: tax.ratios,
    targets: tax.targets,
    tables: [],
    findings: findings(stats),
    ...(usage ? { backstopUsage: usageOf(usage, backstopRequests) } : {}),
  };
}
