import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackstopProcess } from '../../test/support/backstop-process.ts';
import { type LoadResult, runLoad } from '../load/autocannon-run.ts';
import { runPacedLoad } from '../load/paced-load.ts';
import { startShippedBackstop } from '../processes/backstop.ts';
import { findNginx, type NginxHandle, startNginx } from '../processes/nginx.ts';
import { type OtlpSink, startOtlpSink } from '../processes/otlp-sink.ts';
import { startMeter, type Usage } from '../processes/proc-meter.ts';
import { fmtMsProse } from '../reports/format.ts';
import { type ProfileSummary, readProfile } from '../statistics/profile.ts';
import { ratio } from '../statistics/stats.ts';
import type { Ratio, RunContext, ScenarioResult, Table, Target } from './types.ts';

/** The issue's bars for the relay cost. */
const BARS = { fixedRate: 500, addedP50Ms: 0.5, addedP99Ms: 2, vsNginx: 0.4 } as const;

interface Relay {
  name: 'direct' | 'backstop' | 'backstop traced' | 'nginx';
  url: string;
  pids: () => number[];
}

interface Measured {
  fixed?: LoadResult;
  saturation?: LoadResult;
  relayUsage?: Usage;
  upstreamUsage?: Usage;
}

/**
 * The cost of the relay itself: the simulator with no latency and no faults, so every request
 * succeeds first time and all that differs between paths is the hop. Each path is measured at a
 * fixed 500 req/s (latency) and then at saturation (req/s and CPU per request from /proc), one
 * after another against the same simulator; nginx (one worker, upstream keep-alive) is the yardstick.
 */
export async function overhead(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  const t0 = ctx.now();
  const rate = opts.rate ?? BARS.fixedRate;
  const durationS = opts.durationS ?? 10;
  const connections = opts.concurrency ?? 64;
  const maxTokens = opts.maxTokens ?? 15;
  const gw = await ctx.gateway({ seed: opts.seed, timeScale: 0, faults: { flapping: false } });
  const bs = await ctx.backstop(gw.url);
  const relays: Relay[] = [
    { name: 'direct', url: gw.url, pids: () => [] },
    { name: 'backstop', url: bs.url, pids: () => (bs.pid ? [bs.pid] : []) },
  ];
  // Tracing on at 100% sampling, exporting to a sink in this process (issue 12): what it costs
  // is this row against the backstop row, in the same run. Not with --backstop (not ours to start).
  let sink: OtlpSink | undefined;
  if (!opts.backstop) {
    sink = await startOtlpSink();
    const traced = await ctx.backstop(gw.url, {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_TRACES_SAMPLER: 'always_on',
    });
    relays.push({ name: 'backstop traced', url: traced.url, pids: () => (traced.pid ? [traced.pid] : []) });
  }
  const nginxBinary = findNginx();
  let nginx: NginxHandle | undefined;
  if (nginxBinary) {
    nginx = await startNginx(nginxBinary, gw.url);
    relays.push({ name: 'nginx', url: nginx.url, pids: () => (nginx as NginxHandle).pids() });
  }
  const upstreamPids = () => (gw.sim ? [gw.sim.pid] : []);
  const results = new Map<string, Measured>();
  try {
    for (const relay of relays) {
      const progress = ctx.progress(`overhead: ${relay.name} at ${rate} req/s for ${durationS} s`, 0);
      // A short warm-up so JIT and connection pools are hot for every path alike.
      await runLoad({ url: relay.url, models: opts.models, maxTokens, durationS: 1, connections: 8 });
      const fixed = await runPacedLoad({
        url: relay.url,
        models: opts.models,
        maxTokens,
        durationS,
        rate,
        connections: 16,
      });
      progress.end();
      const satProgress = ctx.progress(
        `overhead: ${relay.name} at saturation, ${connections} connections`,
        0,
      );
      const relayMeter = startMeter(relay.pids);
      const upstreamMeter = startMeter(upstreamPids);
      const saturation = await runLoad({
        url: relay.url,
        models: opts.models,
        maxTokens,
        durationS,
        connections,
      });
      results.set(relay.name, {
        fixed,
        saturation,
        relayUsage: relayMeter.stop(),
        upstreamUsage: upstreamMeter.stop(),
      });
      satProgress.end();
    }
  } finally {
    await nginx?.stop();
  }
  // Spans still batched are exported when the traced backstop stops, after this count.
  const exported = sink?.exports();
  await sink?.close();

  const profile =
    opts.profile && gw.sim ? await profileBackstop(ctx, gw.url, connections, maxTokens) : undefined;
  const { tables, ratios, targets, findings } = report(
    results,
    rate,
    connections,
    nginxBinary !== undefined,
    profile,
    exported,
  );
  return {
    name: 'overhead',
    title: 'Overhead: backstop vs direct vs nginx',
    summary:
      `Simulator at time scale 0 with every fault off (${gw.sim ? 'embedded' : `--gateway ${gw.url}, as it is`}), ` +
      `non-streaming max_tokens ${maxTokens}, both models alternating. Per path: ${rate} req/s for ${durationS} s ` +
      `(evenly spaced arrivals, up to 16 connections), then saturation with ${connections} connections for ${durationS} s. ` +
      `${nginxBinary ? 'nginx: one worker, keepalive upstream, no access log.' : 'nginx is not installed: its rows are missing.'} ` +
      `"backstop traced": the same backstop with OpenTelemetry tracing on at 100% sampling, exporting OTLP/HTTP to a sink.`,
    config: { rate, durationS, connections, maxTokens, nginx: nginxBinary ?? 'not installed' },
    wallMs: ctx.now() - t0,
    stats: [],
    samples: [],
    ratios,
    targets,
    tables,
    findings,
    ...(profile ? { profile } : {}),
    latencyCdf: {
      title: `Latency CDF at ${rate} req/s (non-streaming, zero-latency simulator)`,
      series: [...results].map(([path, m]) => ({ path, points: m.fixed?.cdf ?? [] })),
    },
  };
}

function report(
  results: Map<string, Measured>,
  rate: number,
  connections: number,
  hasNginx: boolean,
  profile: ProfileSummary | undefined,
  exported: { requests: number; bytes: number } | undefined,
) {
  const cpuUs = (m: Measured | undefined, usage: Usage | undefined) =>
    m?.saturation && usage && m.saturation.ok2xx > 0
      ? (usage.cpuSeconds * 1e6) / m.saturation.requests
      : Number.NaN;
  const rows: Table['rows'] = [];
  for (const [name, m] of results) {
    const f = m.fixed;
    rows.push([
      name,
      f ? fmtMsProse(f.latency.p50) : 'n/a',
      f ? fmtMsProse(f.latency.p99) : 'n/a',
      f ? `${f.non2xx + f.errors}` : 'n/a',
      m.saturation ? m.saturation.reqPerSec.toFixed(0) : 'n/a',
      name === 'direct' ? '-' : cpuUs(m, m.relayUsage).toFixed(1),
      cpuUs(m, m.upstreamUsage).toFixed(1),
      name === 'direct' ? '-' : `${((m.relayUsage?.peakRssBytes ?? 0) / 1048576).toFixed(0)} MB`,
      m.saturation ? `${m.saturation.non2xx + m.saturation.errors}` : 'n/a',
    ]);
  }
  const d = results.get('direct');
  const b = results.get('backstop');
  const n = results.get('nginx');
  const addedP50 = (b?.fixed?.latency.p50 ?? Number.NaN) - (d?.fixed?.latency.p50 ?? Number.NaN);
  const addedP99 = (b?.fixed?.latency.p99 ?? Number.NaN) - (d?.fixed?.latency.p99 ?? Number.NaN);
  const vsNginx = ratio(b?.saturation?.reqPerSec ?? Number.NaN, n?.saturation?.reqPerSec ?? Number.NaN);
  const bCpu = cpuUs(b, b?.relayUsage);
  const nCpu = cpuUs(n, n?.relayUsage);
  const t = results.get('backstop traced');
  const tCpu = cpuUs(t, t?.relayUsage);
  const tracing: Ratio[] =
    t === undefined
      ? []
      : [
          {
            name: 'relay CPU per request, tracing on (100%) / off',
            value: ratio(tCpu, bCpu),
            detail: `${fmt(tCpu)} vs ${fmt(bCpu)} us; ${exported?.requests ?? 0} exports, ${fmt((exported?.bytes ?? 0) / 1048576)} MiB`,
          },
          {
            name: 'saturation req/s, tracing on (100%) / off',
            value: ratio(t.saturation?.reqPerSec ?? Number.NaN, b?.saturation?.reqPerSec ?? Number.NaN),
            detail: `${fmt(t.saturation?.reqPerSec)} vs ${fmt(b?.saturation?.reqPerSec)} req/s`,
          },
          {
            name: `latency p99 at ${rate} req/s, tracing on (100%) / off`,
            value: ratio(t.fixed?.latency.p99 ?? Number.NaN, b?.fixed?.latency.p99 ?? Number.NaN),
            detail: `${fmtMsProse(t.fixed?.latency.p99 ?? Number.NaN)} vs ${fmtMsProse(b?.fixed?.latency.p99 ?? Number.NaN)}`,
          },
        ];
  const ratios: Ratio[] = [
    {
      name: 'saturation req/s, backstop / nginx',
      value: vsNginx,
      detail: `${fmt(b?.saturation?.reqPerSec)} vs ${fmt(n?.saturation?.reqPerSec)} req/s`,
    },
    {
      name: 'saturation req/s, backstop / direct',
      value: ratio(b?.saturation?.reqPerSec ?? Number.NaN, d?.saturation?.reqPerSec ?? Number.NaN),
      detail: `${fmt(b?.saturation?.reqPerSec)} vs ${fmt(d?.saturation?.reqPerSec)} req/s`,
    },
    {
      name: 'saturation req/s, nginx / direct',
      value: ratio(n?.saturation?.reqPerSec ?? Number.NaN, d?.saturation?.reqPerSec ?? Number.NaN),
      detail: `${fmt(n?.saturation?.reqPerSec)} vs ${fmt(d?.saturation?.reqPerSec)} req/s`,
    },
    {
      name: 'relay CPU per request, backstop / nginx',
      value: ratio(bCpu, nCpu),
      detail: `${fmt(bCpu)} vs ${fmt(nCpu)} us`,
    },
    {
      name: `latency p50 at ${rate} req/s, backstop / direct`,
      value: ratio(b?.fixed?.latency.p50 ?? Number.NaN, d?.fixed?.latency.p50 ?? Number.NaN),
      detail: `${fmtMsProse(b?.fixed?.latency.p50 ?? Number.NaN)} vs ${fmtMsProse(d?.fixed?.latency.p50 ?? Number.NaN)}`,
    },
    ...tracing,
  ];
  const targets: Target[] = [
    {
      name: `Added latency p50 at ${rate} req/s`,
      bar: `<= ${BARS.addedP50Ms} ms over direct`,
      measured: fmtMsProse(addedP50),
      met: Number.isFinite(addedP50) ? addedP50 <= BARS.addedP50Ms : null,
    },
    {
      name: `Added latency p99 at ${rate} req/s`,
      bar: `<= ${BARS.addedP99Ms} ms over direct`,
      measured: fmtMsProse(addedP99),
      met: Number.isFinite(addedP99) ? addedP99 <= BARS.addedP99Ms : null,
    },
    {
      name: 'Saturation throughput vs nginx',
      bar: `>= ${BARS.vsNginx}x nginx req/s`,
      measured: hasNginx
        ? `${vsNginx.toFixed(2)}x (${fmt(b?.saturation?.reqPerSec)} vs ${fmt(n?.saturation?.reqPerSec)} req/s)`
        : 'nginx not installed',
      met: Number.isFinite(vsNginx) ? vsNginx >= BARS.vsNginx : null,
    },
  ];
  const tables: Table[] = [
    {
      title: 'Relay cost',
      columns: [
        'path',
        `p50 @ ${rate}/s`,
        `p99 @ ${rate}/s`,
        'failed @ fixed',
        `req/s (${connections} conns)`,
        'relay CPU us/req',
        'upstream CPU us/req',
        'relay peak RSS',
        'failed @ sat.',
      ],
      rows,
      note: 'CPU per request = (user + system CPU seconds of the relay, from /proc) / requests during the saturation run. "upstream" is the simulator, the same for every path.',
    },
  ];
  if (profile) tables.push(...profileTables(profile));
  const findings = [
    `At ${rate} req/s backstop added ${fmtMsProse(addedP50)} at p50 and ${fmtMsProse(addedP99)} at p99 over direct.`,
    hasNginx
      ? `At saturation backstop served ${vsNginx.toFixed(2)}x nginx's req/s, at ${fmt(bCpu)} us of CPU per request against nginx's ${fmt(nCpu)} us.`
      : 'nginx is not installed (apt-get install nginx), so the yardstick rows are missing.',
    "All processes share the machine's cores: the load generator, the simulator and the relay compete, so req/s figures are only comparable within this run.",
  ];
  if (profile) {
    const top = profile.byArea.slice(0, 5).map((a) => `${a.area} ${a.pct.toFixed(0)}%`);
    findings.push(`Where backstop's CPU goes under saturation (self time): ${top.join(', ')}.`);
  }
  return { tables, ratios, targets, findings };
}

function fmt(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function profileTables(profile: ProfileSummary): Table[] {
  return [
    {
      title: 'backstop CPU profile by area (self time, saturation)',
      columns: ['area', 'self ms', '% of busy'],
      rows: profile.byArea.slice(0, 12).map((a) => [a.area, a.selfMs.toFixed(0), a.pct.toFixed(1)]),
      note: `From ${profile.file}: busy ${profile.busyMs.toFixed(0)} ms, idle ${profile.idleMs.toFixed(0)} ms.`,
    },
    {
      title: 'backstop CPU profile: heaviest functions (self time)',
      columns: ['function', 'where', 'self ms', '% of busy'],
      rows: profile.top.map((f) => [f.fn, f.where, f.selfMs.toFixed(0), f.pct.toFixed(1)]),
    },
  ];
}

/** A separate backstop under `--cpu-prof`, saturated for 5 s: profiling slows it, so it is not measured. */
async function profileBackstop(
  ctx: RunContext,
  upstreamUrl: string,
  connections: number,
  maxTokens: number,
): Promise<ProfileSummary | undefined> {
  const progress = ctx.progress('overhead: CPU profile of backstop under load', 0);
  let bs: BackstopProcess | undefined;
  try {
    bs = await startShippedBackstop(upstreamUrl, { ...ctx.opts.backstopEnv }, ctx.outDir);
    await runLoad({ url: bs.url, models: ctx.opts.models, maxTokens, durationS: 5, connections });
    await bs.stop();
    const file = readdirSync(ctx.outDir).find((f) => f.endsWith('.cpuprofile'));
    return file ? readProfile(join(ctx.outDir, file)) : undefined;
  } finally {
    await bs?.stop();
    progress.end();
  }
}
