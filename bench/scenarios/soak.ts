import { readdirSync } from 'node:fs';
import { FAULT_NAMES } from '../../src/simulator/index.ts';
import { connectLiveHeapProbe, listeningPorts, memory } from '../processes/proc-meter.ts';
import { skipped } from './skipped.ts';
import type { RunContext, ScenarioResult, Table, Target } from './types.ts';

/**
 * The soak (issue 10): steady mixed traffic through backstop for `--minutes` (default 10): JSON and
 * streams, both models, slow readers and clients that leave mid-stream, while every simulator
 * fault mode takes its turn. Every second it samples backstop's RSS, heap, open descriptors and
 * in-flight gauge; at the end it fits a slope to each and checks them against the bounds below,
 * checks that every attempt backstop counted is one the simulator received (nothing lost or
 * duplicated), that no client request hung, and that the process never restarted. Any miss sets
 * the exit code to 1.
 *
 * What the trends are fitted on (docs/benchmarks.md, "The soak's trends"), and why:
 * - Only after the warm-up, one whole fault cycle (WARM_UP_S): each fault mode's first turn
 *   allocates for the first time (oversizedJson reads up to MAX_RESPONSE_BYTES per answer, and
 *   RSS keeps part of it), so over the first cycle RSS climbs to its plateau; a fit that started
 *   inside it read that climb as growth.
 * - The heap trend on the *live* heap: heap used right after a full GC, forced every
 *   LIVE_HEAP_PERIOD_MS through backstop's inspector. The heap used that /metrics reports also
 *   holds the garbage of the current GC cycle: a sawtooth of ~20 to ~75 MiB with a period of
 *   about two minutes, whose fitted slope read -4.2 to -1.2 MiB/min on one leak-free run (by
 *   where the fit started), and -0.8 MiB/min over a 3-minute run with a leak (the
 *   ConnectionTracker leak of issue 10, 1.6 MiB/min of live heap). Still plotted, not judged.
 */

/** Growth allowed per minute after the warm-up: what a leak of one object per request would exceed. */
const BOUNDS = { rssMiBPerMin: 2, heapMiBPerMin: 1, fdsPerMin: 1, poolSocketsPerMin: 1 };
/** The gateway pool's open sockets, as backstop_upstream_connections reports them. */
const POOL_SOCKETS = 'backstop_upstream_connections{upstream="gateway",state="connected"}';
const WORKERS = 16;
const FAULT_PERIOD_MS = 20_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** One forced full GC per this often: 25 to 86 ms each under the soak (measured), under 0.6% of the time. */
const LIVE_HEAP_PERIOD_MS = 15_000;
/**
 * The warm-up: one whole fault cycle (every fault mode, then a clean turn), which starts one
 * period in. By its end every turn has had its first go.
 */
const WARM_UP_S = (FAULT_PERIOD_MS * (FAULT_NAMES.length + 2)) / 1000;
/** The fewest seconds of samples after the warm-up for a trend worth judging. */
const MIN_FIT_S = 120;

interface Sample {
  t: number;
  rssMiB: number;
  /** Heap used as /metrics reports it (garbage included); NaN when the scrape failed. */
  heapMiB: number;
  fds: number;
  inflight: number;
  /** The gateway pool's open sockets. */
  poolSockets: number;
}

/** Heap used right after a forced full GC. */
interface LiveSample {
  t: number;
  liveHeapMiB: number;
}

export async function soak(ctx: RunContext): Promise<ScenarioResult> {
  const { opts } = ctx;
  const minutes = opts.minutes ?? 10;
  if (opts.gateway || opts.backstop)
    return skipped('soak', 'Soak', 'needs the embedded simulator and the suite-started backstop');
  const gw = await ctx.gateway({
    seed: opts.seed,
    timeScale: 1,
    // Short generations so the soak pushes many requests: ~100 req/s over 16 workers.
    faults: { latency: { ttftMs: 40, tpotMs: 4, tokens: 20 } },
  });
  const sim = gw.sim;
  if (!sim) throw new Error('soak needs the embedded simulator');
  // The shipped flags (processes.ts) plus an inspector on a free port and `gc`, for the live heap.
  const nodeOptions = [opts.backstopEnv.NODE_OPTIONS, '--inspect=127.0.0.1:0', '--expose-gc'];
  const bs = await ctx.backstop(gw.url, { NODE_OPTIONS: nodeOptions.filter(Boolean).join(' ') });
  const pid = bs.pid as number;
  const admin = bs.adminUrl as string;
  const ownPorts = new Set([bs.url, admin].map((u) => Number(new URL(u).port)));
  const inspectorPort = listeningPorts(pid).find((p) => !ownPorts.has(p));
  if (inspectorPort === undefined) throw new Error("soak: backstop's inspector port not found");
  const heapProbe = await connectLiveHeapProbe(inspectorPort);
  const t0 = ctx.now();
  const endAt = t0 + minutes * 60_000;
  const off = Object.fromEntries(FAULT_NAMES.map((f) => [f, 0]));

  // Every fault mode takes its turn, with a clean period between them.
  const cycle = [...FAULT_NAMES.map((f) => ({ [f]: f === 'hang' ? 0.02 : 0.05 })), {}];
  let turn = 0;
  const faultTimer = setInterval(() => {
    void sim.setFaults({ ...off, ...cycle[turn++ % cycle.length] });
  }, FAULT_PERIOD_MS);

  const counts = { sent: 0, answered: 0, aborted: 0, slow: 0, hung: 0, errors: 0 };
  const models = opts.models;
  const worker = async (id: number) => {
    for (let i = 0; ctx.now() < endAt; i++) {
      const kind = (id + i) % 8;
      const stream = kind >= 4;
      const model = models[(id + i) % models.length] as string;
      counts.sent++;
      try {
        const res = await fetch(`${bs.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model,
            messages: [{ role: 'user', content: `soak ${id}-${i}` }],
            max_tokens: 20,
            stream,
          }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const reader = res.body?.getReader();
        if (reader && kind === 7) {
          await reader.read(); // a client that leaves after the first chunk
          await reader.cancel();
          counts.aborted++;
          continue;
        }
        for (;;) {
          const chunk = await reader?.read();
          if (!chunk || chunk.done) break;
          if (kind === 6) await new Promise((r) => setTimeout(r, 20)); // a slow reader
        }
        if (kind === 6) counts.slow++;
        counts.answered++;
      } catch (error) {
        if ((error as Error).name === 'TimeoutError') counts.hung++;
        else counts.errors++;
      }
    }
  };

  const samples: Sample[] = [];
  let restarted = false;
  const sampler = setInterval(() => {
    void (async () => {
      const mem = memory(pid);
      if (mem === undefined) {
        restarted = true;
        return;
      }
      let fds = Number.NaN;
      try {
        fds = readdirSync(`/proc/${pid}/fd`).length;
      } catch {}
      // A failed scrape leaves its figures out (NaN), rather than a 0 that would bend a trend.
      const text = await scrape(admin);
      samples.push({
        t: (ctx.now() - t0) / 1000,
        rssMiB: mem.rssBytes / 2 ** 20,
        heapMiB: metric(text, 'backstop_nodejs_heap_size_used_bytes') / 2 ** 20,
        fds,
        inflight: metric(text, 'backstop_inflight_requests'),
        poolSockets: metric(text, POOL_SOCKETS),
      });
    })();
  }, 1000);
  const liveSamples: LiveSample[] = [];
  const liveSampler = setInterval(() => {
    void heapProbe.liveHeapBytes().then((bytes) => {
      if (Number.isFinite(bytes))
        liveSamples.push({ t: (ctx.now() - t0) / 1000, liveHeapMiB: bytes / 2 ** 20 });
    });
  }, LIVE_HEAP_PERIOD_MS);

  const progress = ctx.progress(`soak, ${minutes} min`, Math.ceil(minutes * 60));
  const ticker = setInterval(() => progress.done({ ok: true } as never), 1000);
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)));
  clearInterval(ticker);
  progress.end();
  clearInterval(faultTimer);
  await sim.setFaults(off);
  // Let the last answers drain, then compare backstop's count of attempts with the simulator's.
  let inflight = Number.NaN;
  for (let i = 0; i < 50; i++) {
    inflight = metric(await scrape(admin), 'backstop_inflight_requests');
    if (inflight === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  clearInterval(sampler);
  clearInterval(liveSampler);
  heapProbe.close();
  // NaN when backstop no longer answers: then nothing can be accounted for, and the check fails.
  const attempts = metric(await scrape(admin), 'backstop_attempts_total');
  const received = ((await sim.stats()) as { received: number }).received;

  const lastT = samples.at(-1)?.t ?? 0;
  const judged = lastT - WARM_UP_S >= MIN_FIT_S;
  const fit = <T extends { t: number }>(series: T[], pick: (s: T) => number) =>
    judged
      ? fitSlope(
          series.filter((s) => s.t >= WARM_UP_S && Number.isFinite(pick(s))).map((s) => [s.t / 60, pick(s)]),
        )
      : Number.NaN;
  const slopes = {
    rss: fit(samples, (s) => s.rssMiB),
    heap: fit(liveSamples, (s) => s.liveHeapMiB),
    fds: fit(samples, (s) => s.fds),
    poolSockets: fit(samples, (s) => s.poolSockets),
  };
  const tooShort = `not judged: needs ${MIN_FIT_S} s after the ${WARM_UP_S} s warm-up (--minutes ${Math.ceil((WARM_UP_S + MIN_FIT_S) / 60)} or more)`;
  const targets: Target[] = [
    bounded('RSS trend', slopes.rss, BOUNDS.rssMiBPerMin, 'MiB/min', tooShort),
    bounded('Live heap trend (after a full GC)', slopes.heap, BOUNDS.heapMiBPerMin, 'MiB/min', tooShort),
    bounded('Open descriptors trend', slopes.fds, BOUNDS.fdsPerMin, '/min', tooShort),
    bounded('Gateway pool sockets trend', slopes.poolSockets, BOUNDS.poolSocketsPerMin, '/min', tooShort),
    {
      name: 'Nothing lost or duplicated',
      bar: "backstop's attempts = the simulator's requests; no client request hung; in flight back to 0",
      measured: `${attempts} attempts, ${received} received; ${counts.hung} hung; in flight ${inflight}`,
      met: attempts === received && counts.hung === 0 && inflight === 0,
    },
    {
      name: 'No restart',
      bar: 'the backstop process lived throughout',
      measured: restarted ? 'restarted' : 'alive',
      met: !restarted,
    },
  ];
  if (targets.some((t) => t.met === false)) process.exitCode = 1;

  const every = Math.max(1, Math.floor(samples.length / 20));
  // The live heap shown beside a sample is the latest one measured at or before it.
  const liveAt = (t: number) => liveSamples.findLast((l) => l.t <= t)?.liveHeapMiB;
  const rows: Table['rows'] = samples
    .filter((_, i) => i % every === 0)
    .map((s) => [
      s.t.toFixed(0),
      s.rssMiB.toFixed(1),
      s.heapMiB.toFixed(1),
      liveAt(s.t)?.toFixed(1) ?? '',
      s.fds,
      s.inflight,
      s.poolSockets,
    ]);
  const line = (name: string, color: string, pick: (s: Sample) => number) => ({
    name,
    color,
    points: samples.map((s) => [s.t, pick(s)] as [number, number]),
  });
  return {
    name: 'soak',
    title: `Soak: ${minutes} min of mixed traffic with every fault cycling`,
    summary:
      `${WORKERS} clients for ${minutes} min: JSON and streams of both models, one in eight a slow reader, one in eight ` +
      `leaving after the first chunk; each simulator fault mode in turn for ${FAULT_PERIOD_MS / 1000} s (rate 0.05, hang 0.02). ` +
      `${counts.sent} requests: ${counts.answered} read to the end (${counts.slow} slowly), ${counts.aborted} left mid-stream, ` +
      `${counts.errors} client-side errors, ${counts.hung} hung. Slopes fitted after a warm-up of one whole fault cycle ` +
      `(${WARM_UP_S} s); the heap's on the live heap, measured after a full GC forced every ${LIVE_HEAP_PERIOD_MS / 1000} s.`,
    config: {
      minutes,
      workers: WORKERS,
      faultPeriodS: FAULT_PERIOD_MS / 1000,
      warmUpS: WARM_UP_S,
      liveHeapPeriodS: LIVE_HEAP_PERIOD_MS / 1000,
      ...BOUNDS,
    },
    wallMs: ctx.now() - t0,
    stats: [],
    samples: [],
    ratios: [],
    targets,
    tables: [
      {
        title: 'Samples',
        columns: ['s', 'RSS MiB', 'heap MiB', 'live heap MiB', 'open fds', 'in flight', 'pool sockets'],
        rows,
      },
      {
        title: `Trends (least-squares slope after the ${WARM_UP_S} s warm-up)`,
        columns: ['series', 'slope', 'bound'],
        rows: [
          ['RSS', `${slopes.rss.toFixed(3)} MiB/min`, `${BOUNDS.rssMiBPerMin} MiB/min`],
          ['live heap', `${slopes.heap.toFixed(3)} MiB/min`, `${BOUNDS.heapMiBPerMin} MiB/min`],
          ['heap used (not judged)', `${fit(samples, (s) => s.heapMiB).toFixed(3)} MiB/min`, '-'],
          ['open fds', `${slopes.fds.toFixed(3)} /min`, `${BOUNDS.fdsPerMin} /min`],
          [
            'gateway pool sockets',
            `${slopes.poolSockets.toFixed(3)} /min`,
            `${BOUNDS.poolSocketsPerMin} /min`,
          ],
        ],
      },
    ],
    findings: [],
    series: [
      {
        id: 'chart-soak-memory',
        title: 'backstop memory over the soak',
        xLabel: 's',
        yLabel: 'MiB',
        lines: [
          line('RSS', '#1f77b4', (s) => s.rssMiB),
          line('heap used', '#2ca02c', (s) => s.heapMiB),
          {
            name: 'live heap (after a full GC)',
            color: '#9467bd',
            points: liveSamples.map((l) => [l.t, l.liveHeapMiB] as [number, number]),
          },
        ],
      },
      {
        id: 'chart-soak-fds',
        title: 'open descriptors, requests in flight and gateway pool sockets',
        xLabel: 's',
        yLabel: 'count',
        lines: [
          line('open fds', '#ff7f0e', (s) => s.fds),
          line('in flight', '#d62728', (s) => s.inflight),
          line('pool sockets', '#8c564b', (s) => s.poolSockets),
        ],
      },
    ],
  };
}

/** backstop's /metrics text, with one retry (a keep-alive race); undefined when it does not answer. */
async function scrape(admin: string): Promise<string | undefined> {
  for (let i = 0; i < 2; i++) {
    try {
      return await (await fetch(`${admin}/metrics`)).text();
    } catch {}
  }
  return undefined;
}

/**
 * The sum of every sample of `name` in a Prometheus text exposition, NaN without one. `name` may
 * carry its labels (`x{a="b"}`), in the order the exposition writes them.
 */
function metric(text: string | undefined, name: string): number {
  if (text === undefined) return Number.NaN;
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const next = line[name.length];
    if (next !== ' ' && (name.endsWith('}') || next !== '{')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Least-squares slope of y over x. */
export function fitSlope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function bounded(name: string, value: number, bound: number, unit: string, unmeasured: string): Target {
  return {
    name,
    bar: `<= ${bound} ${unit}`,
    measured: Number.isFinite(value) ? `${value.toFixed(3)} ${unit}` : unmeasured,
    met: Number.isFinite(value) ? value <= bound : null,
  };
}
