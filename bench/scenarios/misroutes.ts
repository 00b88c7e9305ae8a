import { DEFAULT_FAULTS } from '../../src/simulator/index.ts';
import { backstopClient } from '../load/clients/backstop.ts';
import { directClient } from '../load/clients/direct.ts';
import { threePaths } from '../load/clients/three-paths.ts';
import type { PathClient, RequestSample, Workload } from '../load/clients/types.ts';
import { runClosedPhase } from '../load/phase.ts';
import { shortModel } from '../reports/format.ts';
import { aggregate } from '../statistics/aggregate.ts';
import type { RunContext, ScenarioResult, Table } from './types.ts';

interface SimCounts {
  received: number;
}

/**
 * Misroutes as the endpoint picker really makes them (issue 9). Each path runs alone, one after
 * another, because the picker reads the pods' load and paths sharing the gateway would change each
 * other's odds.
 * 1. Load-correlated: both models near their pods' concurrency (2 x max_num_seqs in flight), so a
 *    busy model's requests keep landing on the idle other pod: direct, the report's client loop and
 *    backstop, with upstream requests per client request from the simulator's own count.
 * 2. Stale view: one model's pod out of view 3 s of every 6 s (the discovery picker), backstop
 *    only; the other model must be unaffected.
 * 3. Four paths at the same load (issue 11): direct to the gateway; backstop with retries only
 *    (ROUTING_HEADERS=false); backstop with routing headers, the gateway matching them
 *    (headerRouting); backstop with MODEL_ENDPOINTS at a second simulator with flapping off.
 * Needs the embedded simulator (the picker must be steerable).
 */
export async function misroutes(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  const requests = opts.requests ?? 200;
  const w: Workload = {
    api: opts.api,
    maxTokens: opts.maxTokens ?? 15,
    stream: false,
    timeoutMs: opts.timeoutMs,
  };
  const gw = await ctx.gateway({ seed: opts.seed, timeScale: opts.timeScale });
  const sim = gw.sim;
  if (sim === undefined)
    throw new Error('the misroutes scenario needs the embedded simulator (no --gateway)');
  const bs = await ctx.backstop(gw.url);
  const t0 = ctx.now();
  // The simulator runs with its default pods: max_num_seqs as DEFAULT_FAULTS has it.
  const faults = { maxNumSeqs: DEFAULT_FAULTS.maxNumSeqs };
  const loaded = 2 * faults.maxNumSeqs;
  const counted = async (label: string, client: PathClient, concurrency: number, n = requests) => {
    await sim.resetStats();
    const samples = await runClosedPhase(ctx, label, {
      clients: [client],
      requests: n,
      concurrency,
      models: opts.models,
    });
    const upstream = ((await sim.stats()) as SimCounts).received;
    return { samples, upstream };
  };

  // 1. Load-correlated misroutes.
  const loadRows: Table['rows'] = [];
  const samples: RequestSample[] = [];
  let backstopRun: { samples: RequestSample[]; upstream: number; ms: number } | undefined;
  for (const client of threePaths(ctx, gw.url, bs.url, w)) {
    const started = ctx.now();
    const run = await counted(`load-correlated, ${client.name}`, client, loaded);
    if (client.name === 'backstop') backstopRun = { ...run, ms: ctx.now() - started };
    samples.push(...run.samples);
    for (const s of aggregate(run.samples)) {
      loadRows.push([
        s.path,
        shortModel(s.model),
        `${(s.successRate * 100).toFixed(1)}%`,
        s.attemptsMean.toFixed(2),
        s.attemptsMax,
        s.ttft.p50.toFixed(0),
        s.ttft.p95.toFixed(0),
        (run.upstream / run.samples.length).toFixed(2),
      ]);
    }
  }

  // 2. Stale view of the first model's pod.
  const stale = opts.models[0] as string;
  await sim.setFaults({
    flapping: true,
    picker: 'discovery',
    visibility: Object.fromEntries(opts.models.map((m) => [m, 1])),
    staleView: { model: stale, everyMs: 6000, forMs: 3000 },
  });
  const staleRun = await counted(
    'stale view, backstop',
    backstopClient(ctx.dispatcher, bs.url, w, ctx.now),
    loaded,
  );
  await sim.setFaults({ picker: 'least-load', visibility: {}, staleView: null });

  // 3. Four paths, each alone at the load-correlated concurrency. The models' own endpoints: a
  // second simulator whose picker never misroutes (flapping off), as each model's vLLM Service.
  const endpoints = await ctx.gateway({
    seed: opts.seed + 1,
    timeScale: opts.timeScale,
    faults: { flapping: false },
  });
  const endpointSim = endpoints.sim;
  const retriesOnly = await ctx.backstop(gw.url, { ROUTING_HEADERS: 'false' });
  const withHeaders = await ctx.backstop(gw.url, { ROUTING_HEADERS: 'true' });
  const withFallback = await ctx.backstop(gw.url, {
    ROUTING_HEADERS: 'false',
    MODEL_ENDPOINTS: opts.models.map((m) => `${m}=${endpoints.url}`).join(','),
  });
  const fourPaths: { client: PathClient; headerRouting: boolean }[] = [
    { client: directClient(ctx.dispatcher, gw.url, w, ctx.now), headerRouting: false },
    {
      client: backstopClient(ctx.dispatcher, retriesOnly.url, w, ctx.now, 'backstop-retries'),
      headerRouting: false,
    },
    {
      client: backstopClient(ctx.dispatcher, withHeaders.url, w, ctx.now, 'backstop-headers'),
      headerRouting: true,
    },
    {
      client: backstopClient(ctx.dispatcher, withFallback.url, w, ctx.now, 'backstop-fallback'),
      headerRouting: false,
    },
  ];
  const fourRows: Table['rows'] = [];
  const fourSamples: RequestSample[] = [];
  for (const { client, headerRouting } of fourPaths) {
    await sim.setFaults({ headerRouting });
    await endpointSim?.resetStats();
    const run = await counted(`four paths, ${client.name}`, client, loaded);
    const direct = endpointSim ? ((await endpointSim.stats()) as SimCounts).received : 0;
    fourSamples.push(...run.samples);
    for (const s of aggregate(run.samples)) {
      fourRows.push([
        s.path,
        shortModel(s.model),
        `${(s.successRate * 100).toFixed(1)}%`,
        s.attemptsMean.toFixed(2),
        s.ttft.p95.toFixed(0),
        ((run.upstream + direct) / run.samples.length).toFixed(2),
        (direct / run.samples.length).toFixed(2),
      ]);
    }
  }
  await sim.setFaults({ headerRouting: false });
  const staleRows: Table['rows'] = aggregate(staleRun.samples).map((s) => [
    shortModel(s.model),
    `${(s.successRate * 100).toFixed(1)}%`,
    s.attemptsMean.toFixed(2),
    s.attemptsMax,
    s.ttft.p50.toFixed(0),
    s.ttft.p95.toFixed(0),
  ]);

  const stats = aggregate(samples);
  const backstopLoad = aggregate(samples).filter((s) => s.path === 'backstop');
  // The budgets' bound at the shipped defaults (docs/resilience.md): per client request
  // 1 + RETRY_BUDGET_RATIO (2) + RETRY_MISROUTE_BUDGET_RATIO (20), plus RETRY_BUDGET_MIN_PER_SEC
  // (10) per second and budget, per model.
  const amplification = backstopRun ? backstopRun.upstream / backstopRun.samples.length : Number.NaN;
  const reserve = backstopRun ? (2 * 10 * opts.models.length * backstopRun.ms) / 1000 : 0;
  const bound = backstopRun ? 23 + reserve / backstopRun.samples.length : Number.NaN;
  const targets = [
    {
      name: 'Upstream amplification under load',
      bar: `backstop upstream requests per client request <= the budgets' bound (${bound.toFixed(2)} here: 23 + the per-second reserve)`,
      measured: amplification.toFixed(2),
      met: Number.isFinite(amplification) ? amplification <= bound : null,
    },
    {
      name: 'Load-correlated misroutes',
      bar: 'backstop: every request succeeds',
      measured: backstopLoad
        .map((s) => `${shortModel(s.model)} ${(s.successRate * 100).toFixed(1)}%`)
        .join(', '),
      met: backstopLoad.every((s) => s.successRate === 1),
    },
    {
      name: 'Stale view',
      bar: `backstop: every request succeeds; ${shortModel(opts.models[1] ?? '')} needs 1 attempt`,
      measured: staleRows.map((r) => `${r[0]} ${r[1]} (max ${r[3]} attempts)`).join(', '),
      met: aggregate(staleRun.samples).every(
        (s) => s.successRate === 1 && (s.model === stale || s.attemptsMax === 1),
      ),
    },
  ];
  return {
    name: 'misroutes',
    title: 'Misroutes: load-correlated, stale view',
    summary:
      `${requests} non-streaming requests per path and phase, max_tokens ${w.maxTokens}, on the embedded simulator ` +
      `(seed ${opts.seed}, time scale ${opts.timeScale}, max_num_seqs ${faults.maxNumSeqs}). Load-correlated: ` +
      `${loaded} in flight, each path alone (the retry tax is quick_validation's). ` +
      `Stale view: ${shortModel(stale)}'s pod out of view 3 s of every 6 s. Four paths: direct, backstop with ` +
      'retries only, with routing headers, with MODEL_ENDPOINTS, each alone at the same load.',
    config: { requests, loaded, seed: opts.seed, timeScale: opts.timeScale, maxNumSeqs: faults.maxNumSeqs },
    wallMs: ctx.now() - t0,
    stats: [...stats, ...aggregate(fourSamples)],
    samples: [...samples, ...staleRun.samples, ...fourSamples],
    ratios: [],
    targets,
    tables: [
      {
        title: `Load-correlated misroutes (${loaded} in flight)`,
        columns: [
          'path',
          'model',
          'success',
          'attempts mean',
          'max',
          'TTFT p50 ms',
          'TTFT p95 ms',
          'upstream/request',
        ],
        rows: loadRows,
        note: 'upstream/request: requests the simulator received per client request of that path, both models.',
      },
      {
        title: 'Stale view (backstop, defaults)',
        columns: ['model', 'success', 'attempts mean', 'max', 'TTFT p50 ms', 'TTFT p95 ms'],
        rows: staleRows,
        note: `upstream/request ${(staleRun.upstream / staleRun.samples.length).toFixed(2)}`,
      },
      {
        title: `Four paths (${loaded} in flight, each alone)`,
        columns: [
          'path',
          'model',
          'success',
          'attempts mean',
          'TTFT p95 ms',
          'upstream/request',
          'of which direct',
        ],
        rows: fourRows,
        note:
          'direct: the gateway, no retries; backstop-retries: ROUTING_HEADERS=false; backstop-headers: the gateway ' +
          'routes on X-Gateway-Model-Name (simulator headerRouting); backstop-fallback: ROUTING_HEADERS=false and ' +
          'MODEL_ENDPOINTS at a second simulator with flapping off (FALLBACK_AFTER_MISROUTES 3). upstream/request: ' +
          'requests both simulators received per client request, both models; of which direct: the second simulator.',
      },
    ],
    findings: [],
  };
}
