import { backstopClient } from '../load/clients/backstop.ts';
import { directClient } from '../load/clients/direct.ts';
import { threePaths } from '../load/clients/three-paths.ts';
import type { RequestSample, Workload } from '../load/clients/types.ts';
import { runClosedPhase, runOpenPhase } from '../load/phase.ts';
import { startMeter } from '../processes/proc-meter.ts';
import { fmtMsProse } from '../reports/format.ts';
import { aggregate, type PathModelStats } from '../statistics/aggregate.ts';
import { findings, usageOf } from '../statistics/findings.ts';
import { retryTax } from '../statistics/retry-tax.ts';
import { ratio, summarize } from '../statistics/stats.ts';
import type { Ratio, RunContext, ScenarioResult, Table, Target } from './types.ts';

/** The scale run's stream shape, from the issue: 50 tokens, 20 ms apart. */
const SCALE = { tokens: 50, tpotMs: 20, ttftMs: 20 } as const;
const MB = 1024 * 1024;

/**
 * Streaming: TTFT, TPOT and inter-token latency from SSE, per path and model, on the flapping
 * gateway (then `direct` with flapping off as the reference); then the scale run: `--streams`
 * concurrent streams, direct and through backstop, on a fixed-latency simulator without faults.
 */
export async function streaming(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  const requests = opts.requests ?? 50;
  const concurrency = opts.concurrency ?? 10;
  const w: Workload = {
    api: opts.api,
    maxTokens: opts.maxTokens ?? 50,
    stream: true,
    timeoutMs: opts.timeoutMs,
  };
  const t0 = ctx.now();

  const gw = await ctx.gateway({ seed: opts.seed, timeScale: opts.timeScale });
  const bs = await ctx.backstop(gw.url);
  const samples = await runClosedPhase(ctx, 'streaming', {
    clients: threePaths(ctx, gw.url, bs.url, w),
    requests,
    concurrency,
    models: opts.models,
  });
  if (gw.sim) {
    await gw.sim.setFaults({ flapping: false });
    samples.push(
      ...(await runClosedPhase(ctx, 'reference (flapping off)', {
        clients: [directClient(ctx.dispatcher, gw.url, w, ctx.now, 'reference')],
        requests,
        concurrency,
        models: opts.models,
      })),
    );
    await gw.sim.setFaults({ flapping: true });
  }
  const stats = aggregate(samples);
  const refPath = gw.sim ? 'reference' : 'direct';
  const tax = retryTax(stats, opts.models, refPath, concurrency);
  const ratios: Ratio[] = [...tax.ratios, ...tokenRatios(stats, opts.models, refPath)];
  const targets: Target[] = [...tax.targets];
  const tables: Table[] = [];

  const scale = gw.sim ? await scaleRun(ctx) : undefined;
  if (scale) {
    ratios.push(...scale.ratios);
    targets.push(...scale.targets);
    tables.push(...scale.tables);
  } else {
    tables.push({
      title: 'Streaming scale',
      columns: ['note'],
      rows: [['skipped: the scale run needs the embedded simulator (fixed 20 ms token spacing, no faults)']],
    });
  }
  return {
    name: 'streaming',
    title: 'Streaming (SSE): TTFT, TPOT, inter-token latency',
    summary:
      `${requests} streaming requests per path, max_tokens ${w.maxTokens}, ${concurrency} in flight per path, ` +
      `paths at once; TPOT = (last token - first token) / (tokens - 1), timed at the client per SSE event. ` +
      (scale
        ? `Then ${opts.streams} concurrent streams of ${SCALE.tokens} tokens ${SCALE.tpotMs} ms apart, direct and through backstop.`
        : ''),
    config: {
      requests,
      concurrency,
      maxTokens: w.maxTokens,
      streams: opts.streams,
      timeScale: opts.timeScale,
    },
    wallMs: ctx.now() - t0,
    stats,
    samples,
    ratios,
    targets,
    tables,
    findings: findings(stats),
    ...(scale?.usage ? { backstopUsage: scale.usage } : {}),
  };
}

function tokenRatios(stats: readonly PathModelStats[], models: readonly string[], refPath: string): Ratio[] {
  const out: Ratio[] = [];
  for (const model of models) {
    const bs = stats.find((s) => s.path === 'backstop' && s.model === model);
    const ref = stats.find((s) => s.path === refPath && s.model === model);
    if (!bs || !ref) continue;
    out.push({
      name: `TPOT p95 backstop / ${refPath}, ${model.slice(model.lastIndexOf('/') + 1)}`,
      value: ratio(bs.tpot.p95, ref.tpot.p95),
      detail: `${fmtMsProse(bs.tpot.p95)} vs ${fmtMsProse(ref.tpot.p95)}`,
    });
  }
  return out;
}

/** N concurrent streams direct, then through a fresh backstop: lost streams, added ITL, RSS. */
async function scaleRun(ctx: RunContext) {
  const { opts } = ctx;
  const n = opts.streams;
  const gw = await ctx.gateway({
    seed: opts.seed,
    timeScale: 1,
    faults: { flapping: false, latency: { ...SCALE } },
  });
  const bs = await ctx.backstop(gw.url, {
    UPSTREAM_CONNECTIONS: String(n + 64),
    MAX_CONNECTIONS: String(n * 2 + 64),
  });
  const w: Workload = { api: opts.api, maxTokens: SCALE.tokens, stream: true, timeoutMs: opts.timeoutMs };
  const model = opts.models[0] as string;
  // Start all N within one token interval, so their token ticks are spread evenly, not in lockstep.
  const rate = n * (1000 / SCALE.tpotMs);
  const run = (label: string, client: ReturnType<typeof directClient>) =>
    runOpenPhase(ctx, label, { clients: [client], models: [model] }, rate, SCALE.tpotMs);

  const simPid = (gw.sim as NonNullable<typeof gw.sim>).pid;
  const cpuOf = async (fn: () => Promise<RequestSample[]>) => {
    const sim = startMeter(() => [simPid], 100);
    const relay = bs.pid ? startMeter(() => [bs.pid as number], 100) : undefined;
    const self = process.cpuUsage();
    const t = ctx.now();
    const samples = await fn();
    const used = process.cpuUsage(self);
    return {
      samples,
      wallS: (ctx.now() - t) / 1000,
      clientCpuS: (used.user + used.system) / 1e6,
      simCpuS: sim.stop().cpuSeconds,
      relay: relay?.stop(),
    };
  };
  const directRun = await cpuOf(() =>
    run(`scale: ${n} streams direct`, directClient(ctx.dispatcher, gw.url, w, ctx.now)),
  );
  const backstopRun = await cpuOf(() =>
    run(`scale: ${n} streams via backstop`, backstopClient(ctx.dispatcher, bs.url, w, ctx.now)),
  );
  const direct = directRun.samples;
  const viaBackstop = backstopRun.samples;
  const usage = backstopRun.relay;

  const lost = (list: RequestSample[]) => list.filter((s) => !s.ok || s.tokens < SCALE.tokens).length;
  const itl = (list: RequestSample[]) => summarize(list.flatMap((s) => s.itlMs));
  const d = itl(direct);
  const b = itl(viaBackstop);
  const ttftD = summarize(direct.flatMap((s) => (s.ttftMs === null ? [] : [s.ttftMs])));
  const ttftB = summarize(viaBackstop.flatMap((s) => (s.ttftMs === null ? [] : [s.ttftMs])));
  const lostB = lost(viaBackstop);
  const added99 = b.p99 - d.p99;
  const rss = usage ? usage.peakRssBytes / MB : Number.NaN;
  const table: Table = {
    title: `Streaming scale: ${n} concurrent streams, ${SCALE.tokens} tokens ${SCALE.tpotMs} ms apart`,
    columns: [
      'path',
      'streams',
      'lost',
      'ITL p50',
      'ITL p99',
      'ITL max',
      'TTFT p50',
      'TTFT p99',
      'backstop peak RSS',
    ],
    rows: [
      [
        'direct',
        direct.length,
        lost(direct),
        fmtMsProse(d.p50),
        fmtMsProse(d.p99),
        fmtMsProse(d.max),
        fmtMsProse(ttftD.p50),
        fmtMsProse(ttftD.p99),
        '',
      ],
      [
        'backstop',
        viaBackstop.length,
        lostB,
        fmtMsProse(b.p50),
        fmtMsProse(b.p99),
        fmtMsProse(b.max),
        fmtMsProse(ttftB.p50),
        fmtMsProse(ttftB.p99),
        usage ? `${rss.toFixed(0)} MB` : 'n/a',
      ],
    ],
    note: 'Both runs in the same process tree on the same 2 cores; "added" figures are backstop minus direct.',
  };
  const cpuTable: Table = {
    title: 'Streaming scale: CPU seconds by process (where the time goes)',
    columns: ['run', 'wall s', 'bench client CPU s', 'simulator CPU s', 'backstop CPU s', 'CPU s per wall s'],
    rows: [directRun, backstopRun].map((r, i) => {
      const relayS = r.relay?.cpuSeconds ?? 0;
      return [
        i === 0 ? 'direct' : 'backstop',
        r.wallS.toFixed(2),
        r.clientCpuS.toFixed(2),
        r.simCpuS.toFixed(2),
        i === 0 ? '-' : relayS.toFixed(2),
        ((r.clientCpuS + r.simCpuS + relayS) / r.wallS).toFixed(2),
      ];
    }),
    note: `${n} streams x ${SCALE.tokens} tokens is ${(n * SCALE.tokens).toLocaleString('en')} SSE events per run. A "CPU s per wall s" near the core count means the machine, not backstop alone, sets the inter-token latency.`,
  };
  const targets: Target[] = [
    {
      name: 'Streams lost',
      bar: `0 of ${n}`,
      measured: `${lostB} of ${viaBackstop.length}`,
      met: lostB === 0,
    },
    {
      name: 'Added inter-token latency p99',
      bar: '<= 2 ms',
      measured: `${fmtMsProse(added99)} (${fmtMsProse(b.p99)} vs ${fmtMsProse(d.p99)} direct)`,
      met: Number.isFinite(added99) ? added99 <= 2 : null,
    },
    {
      name: 'backstop RSS during the scale run',
      bar: '< 200 MB',
      measured: usage ? `${rss.toFixed(0)} MB peak` : 'not measured (external backstop)',
      met: usage ? rss < 200 : null,
    },
  ];
  const ratios: Ratio[] = [
    {
      name: 'scale: ITL p99 backstop / direct',
      value: ratio(b.p99, d.p99),
      detail: `${fmtMsProse(b.p99)} vs ${fmtMsProse(d.p99)}`,
    },
    {
      name: 'scale: ITL p50 backstop / direct',
      value: ratio(b.p50, d.p50),
      detail: `${fmtMsProse(b.p50)} vs ${fmtMsProse(d.p50)}`,
    },
  ];
  return {
    tables: [table, cpuTable],
    targets,
    ratios,
    usage: usage ? usageOf(usage, viaBackstop.length) : undefined,
  };
}
