import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackstopProcess } from '../../test/support/backstop-process.ts';
import { runLoad } from '../load/autocannon-run.ts';
import {
  type Comparison,
  type ComparisonSpec,
  compareRelays,
  median,
  type Relay,
  type StepFigures,
} from '../load/relay-comparison.ts';
import { startShippedBackstop } from '../processes/backstop.ts';
import { FIXED_JSON_BYTES, SSE_CHUNKS, startFixedUpstream } from '../processes/fixed-upstream.ts';
import { startFloor } from '../processes/floor.ts';
import { findNginx, startNginx } from '../processes/nginx.ts';
import { type OtlpSink, startOtlpSink } from '../processes/otlp-sink.ts';
import { memory } from '../processes/proc-meter.ts';
import {
  type Bars,
  FOOTPRINT_BARS,
  footprintRatios,
  footprintTargets,
  type HoldFigures,
  type Resident,
} from '../statistics/footprint.ts';
import { type ProfileSummary, readProfile } from '../statistics/profile.ts';
import { ratio } from '../statistics/stats.ts';
import { type AllocationFigures, allocationPhase } from './overhead-alloc.ts';
import { holdPhase } from './overhead-hold.ts';
import { RETRY_RATE, type RetryRow, retryPhase } from './overhead-retry.ts';
import { costTable, holdTable, num, profileTables, repetitionTable, retryTable } from './overhead-tables.ts';
import type { RunContext, ScenarioResult } from './types.ts';

const MB = 1024 * 1024;

/**
 * What the hop costs (issue 13). Every relay sits in front of the same fixed upstream (600 B JSON
 * or 40-chunk SSE, at once), each in its own process: direct (no relay), nginx (one worker), the
 * floor (a bare node:http verifier: bench/processes/floor-server.ts), backstop as it ships, and
 * backstop with tracing on at 100%. Each repetition runs four steps (JSON at saturation, JSON at an
 * even rate, SSE at 50 and at 200 connections), the paths alternated within each step; the report
 * gives medians, and backstop's ratios to the floor are its headline. Then 2,000 streams held
 * through a fresh floor and a fresh backstop, the retry path on the simulator, and a CPU profile. `--check`: floor
 * and backstop only, plus the hold, for the bars alone.
 */
export async function overhead(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  if (opts.backstop)
    throw new Error(
      'the overhead scenario compares relays it starts in front of its own fixed upstream; --backstop is not supported',
    );
  const t0 = ctx.now();
  const bars: Bars = { ...FOOTPRINT_BARS, ...opts.bars };
  const spec: ComparisonSpec = {
    models: opts.models,
    maxTokens: opts.maxTokens ?? 15,
    durationS: opts.durationS ?? 5,
    // --check: five, so that two repetitions hit by a burst of the machine's noise still leave the median.
    repetitions: opts.repetitions ?? (opts.check ? 5 : 3),
    jsonConnections: opts.concurrency ?? 50,
    rate: opts.rate ?? 2000,
    sseConnections: [50, 200],
  };
  const holdS = opts.holdS ?? 30;
  const nginxBinary = opts.check ? undefined : findNginx();
  const stops: Array<() => Promise<void>> = [];
  const idle = new Map<string, Resident>();
  let comparison: Comparison;
  let sink: OtlpSink | undefined;
  let exported: { requests: number; bytes: number } | undefined;
  let hold: HoldFigures;
  let allocation: AllocationFigures;
  let retry: RetryRow[] | undefined;
  let profile: ProfileSummary | undefined;
  try {
    const upstream = await startFixedUpstream();
    stops.push(upstream.stop);
    const relays: Relay[] = [];
    if (!opts.check) relays.push({ name: 'direct', url: upstream.url, pids: () => [] });
    if (nginxBinary) {
      const nginx = await startNginx(nginxBinary, upstream.url);
      stops.push(nginx.stop);
      relays.push({ name: 'nginx', url: nginx.url, pids: nginx.pids });
    }
    const floor = await startFloor(upstream.url);
    stops.push(floor.stop);
    relays.push({ name: 'floor', url: floor.url, pids: () => [floor.pid] });
    const bs = await ctx.backstop(upstream.url);
    relays.push({ name: 'backstop', url: bs.url, pids: () => (bs.pid ? [bs.pid] : []) });
    if (!opts.check) {
      // Tracing on at 100% sampling, exporting to a sink in this process (issue 12): what it
      // costs is this row against the backstop row, in the same run.
      sink = await startOtlpSink();
      const traced = await ctx.backstop(upstream.url, {
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        OTEL_TRACES_SAMPLER: 'always_on',
      });
      relays.push({ name: 'backstop traced', url: traced.url, pids: () => (traced.pid ? [traced.pid] : []) });
    }
    // Idle: started and listening, before any request.
    for (const relay of relays) {
      const pids = relay.pids();
      if (!pids.length) continue;
      const resident: Resident = { rssBytes: 0, anonBytes: 0 };
      for (const pid of pids) {
        const mem = memory(pid);
        resident.rssBytes += mem?.rssBytes ?? 0;
        resident.anonBytes += mem?.anonBytes ?? 0;
      }
      idle.set(relay.name, resident);
    }
    comparison = await compareRelays(relays, spec, (label) => ctx.progress(label, 0));
    // Spans still batched are exported when the traced backstop stops, after this count.
    exported = sink?.exports();
    allocation = await allocationPhase(ctx, upstream.url, spec, spec.durationS);
    hold = await holdPhase(ctx, opts.streams, holdS);
    if (!opts.check) {
      retry = await retryPhase(ctx, spec.durationS);
      if (opts.profile) profile = await profileBackstop(ctx, upstream.url, spec);
    }
  } finally {
    await sink?.close();
    while (stops.length) await (stops.pop() as () => Promise<void>)().catch(() => {});
  }

  const targets = footprintTargets({
    comparison,
    idle: idle.get('backstop') ?? { rssBytes: Number.NaN, anonBytes: Number.NaN },
    hold,
    bars,
    rate: spec.rate,
    jsonConnections: spec.jsonConnections,
    sseConnections: spec.sseConnections,
  });
  const ratios = footprintRatios(comparison, spec.rate, spec.sseConnections);
  if (!('skipped' in hold) && hold.floor)
    ratios.push({
      name: `peak RSS holding ${hold.result.streams} streams, backstop / floor`,
      value: hold.peakRssBytes / hold.floor.peakRssBytes,
      detail: `${(hold.peakRssBytes / MB).toFixed(0)} vs ${(hold.floor.peakRssBytes / MB).toFixed(0)} MB`,
    });
  if (!('skipped' in allocation))
    ratios.push({
      name: 'heap allocated per JSON request, backstop / floor',
      value: allocation.backstop.bytesPerRequest / allocation.floor.bytesPerRequest,
      detail: `${(allocation.backstop.bytesPerRequest / 1024).toFixed(1)} vs ${(allocation.floor.bytesPerRequest / 1024).toFixed(1)} KiB (over ${allocation.backstop.requests} and ${allocation.floor.requests} requests)`,
    });
  if (exported)
    ratios.push({
      name: 'spans exported by the traced backstop',
      value: Number.NaN,
      detail: `${exported.requests} exports, ${((exported.bytes ?? 0) / MB).toFixed(1)} MiB`,
    });
  const tables = [costTable(comparison, idle, spec), repetitionTable(comparison, spec)];
  tables.push(holdTable(hold, holdS));
  if (retry) tables.push(retryTable(retry));
  if (profile) tables.push(...profileTables(profile));
  const findings = overheadFindings(comparison, nginxBinary !== undefined, opts.check, profile);
  const paced = (path: string) => comparison.get(path)?.paced.at(-1)?.cdf ?? [];
  return {
    name: 'overhead',
    title: 'Overhead: backstop vs the floor, nginx and direct',
    summary:
      `A fixed upstream in its own process (${FIXED_JSON_BYTES} B JSON, or ${SSE_CHUNKS} SSE chunks then [DONE], at once) ` +
      `behind each path: ${[...comparison.keys()].join(', ')}. ${spec.repetitions} repetitions; in each, ${spec.durationS} s per step ` +
      `(JSON at saturation with ${spec.jsonConnections} connections, JSON at an even ${spec.rate} req/s, SSE at saturation with ` +
      `${spec.sseConnections.join(' and ')} connections), the paths alternated within each step and the order rotated per repetition; ` +
      `figures are medians. The floor is a bare node:http verifier (undici Pool.request, JSON.parse, model check; no logs, metrics or retries) ` +
      `with backstop's Node flags. backstop runs as it ships (dist/, its V8 flags, LOG_LEVEL=info, metrics on). ` +
      `${opts.check ? '--check: floor and backstop only. ' : nginxBinary ? 'nginx: one worker, keep-alive upstream, no access log. ' : 'nginx is not installed: its rows are missing. '}` +
      'Then the heap allocated per JSON request in a fresh floor and a fresh backstop (bench/processes/alloc-probe.mjs), ' +
      `and ${opts.streams} streams held ${holdS} s through a fresh floor, then a fresh backstop` +
      `${opts.check ? '.' : `, and the retry path on the simulator at ${RETRY_RATE} req/s.`}`,
    config: {
      durationS: spec.durationS,
      repetitions: spec.repetitions,
      jsonConnections: spec.jsonConnections,
      rate: spec.rate,
      sseConnections: spec.sseConnections.join(','),
      maxTokens: spec.maxTokens,
      streams: opts.streams,
      holdS,
      check: opts.check,
      nginx: nginxBinary ?? (opts.check ? 'not run (--check)' : 'not installed'),
    },
    wallMs: ctx.now() - t0,
    stats: [],
    samples: [],
    ratios,
    targets,
    tables,
    findings,
    ...(profile ? { profile } : {}),
    latencyCdf: {
      title: `Latency CDF at an even ${spec.rate} req/s (JSON, fixed upstream; last repetition)`,
      series: [...comparison.keys()].map((path) => ({ path, points: paced(path) })),
    },
  };
}

function overheadFindings(
  c: Comparison,
  hasNginx: boolean,
  check: boolean,
  profile: ProfileSummary | undefined,
): string[] {
  const m = (path: string, pick: (f: StepFigures) => number) => median(c.get(path)?.json ?? [], pick);
  const bCpu = m('backstop', (f) => f.cpuUsPerRequest);
  const fCpu = m('floor', (f) => f.cpuUsPerRequest);
  const out = [
    `At JSON saturation backstop used ${num(bCpu)} us of CPU per request against the floor's ${num(fCpu)} us ` +
      `(${num(ratio(bCpu, fCpu))}x), and served ${num(
        ratio(
          m('backstop', (f) => f.reqPerSec),
          m('floor', (f) => f.reqPerSec),
        ),
      )}x its req/s.`,
  ];
  if (hasNginx) {
    const nCpu = m('nginx', (f) => f.cpuUsPerRequest);
    out.push(
      `nginx relayed the same JSON at ${num(nCpu)} us per request: the floor is ${num(ratio(fCpu, nCpu))}x nginx.`,
    );
  } else if (!check) {
    out.push('nginx is not installed (apt-get install nginx), so its rows are missing.');
  }
  out.push(
    `All processes share the machine's cores (the load generator, the upstream and the relay), so absolute figures are only comparable within this run; ` +
      `the ratios are the figures to quote, with the spread per repetition beside them.`,
  );
  if (profile) {
    const top = profile.byArea.slice(0, 5).map((a) => `${a.area} ${a.pct.toFixed(0)}%`);
    out.push(`Where backstop's CPU goes under saturation (self time): ${top.join(', ')}.`);
  }
  return out;
}

/** A separate backstop under `--cpu-prof`, saturated with JSON: profiling slows it, so it is not measured. */
async function profileBackstop(
  ctx: RunContext,
  upstreamUrl: string,
  spec: ComparisonSpec,
): Promise<ProfileSummary | undefined> {
  const progress = ctx.progress('overhead: CPU profile of backstop under load', 0);
  let bs: BackstopProcess | undefined;
  try {
    bs = await startShippedBackstop(upstreamUrl, { ...ctx.opts.backstopEnv }, { cpuProfileDir: ctx.outDir });
    await runLoad({
      url: bs.url,
      models: spec.models,
      maxTokens: spec.maxTokens,
      durationS: Math.min(5, spec.durationS),
      connections: spec.jsonConnections,
    });
    await bs.stop();
    const file = readdirSync(ctx.outDir).find((f) => f.endsWith('.cpuprofile'));
    return file ? readProfile(join(ctx.outDir, file)) : undefined;
  } finally {
    await bs?.stop();
    progress.end();
  }
}
