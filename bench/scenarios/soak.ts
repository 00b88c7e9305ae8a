import { readdirSync } from 'node:fs';
import { FAULT_NAMES } from '../../src/simulator/index.ts';
import { memory } from '../processes/proc-meter.ts';
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
 */

/** Growth allowed per minute after the warm-up: what a leak of one object per request would exceed. */
const BOUNDS = { rssMiBPerMin: 2, heapMiBPerMin: 1, fdsPerMin: 1 };
const WORKERS = 16;
const FAULT_PERIOD_MS = 20_000;
const REQUEST_TIMEOUT_MS = 30_000;

interface Sample {
  t: number;
  rssMiB: number;
  heapMiB: number;
  fds: number;
  inflight: number;
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
  const bs = await ctx.backstop(gw.url);
  const pid = bs.pid as number;
  const admin = bs.adminUrl as string;
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
      const text = await fetch(`${admin}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      samples.push({
        t: (ctx.now() - t0) / 1000,
        rssMiB: mem.rssBytes / 2 ** 20,
        heapMiB: metric(text, 'backstop_nodejs_heap_size_used_bytes') / 2 ** 20,
        fds,
        inflight: metric(text, 'backstop_inflight_requests'),
      });
    })();
  }, 1000);

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
    inflight = metric(await fetch(`${admin}/metrics`).then((r) => r.text()), 'backstop_inflight_requests');
    if (inflight === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  clearInterval(sampler);
  const metricsText = await fetch(`${admin}/metrics`).then((r) => r.text());
  const attempts = metric(metricsText, 'backstop_attempts_total');
  const received = ((await sim.stats()) as { received: number }).received;

  const warm = samples.filter((s) => s.t >= Math.min(60, (minutes * 60) / 5));
  const slope = (pick: (s: Sample) => number) => fitSlope(warm.map((s) => [s.t / 60, pick(s)]));
  const slopes = {
    rss: slope((s) => s.rssMiB),
    heap: slope((s) => s.heapMiB),
    fds: slope((s) => s.fds),
  };
  const targets: Target[] = [
    bounded('RSS trend', slopes.rss, BOUNDS.rssMiBPerMin, 'MiB/min'),
    bounded('Heap trend', slopes.heap, BOUNDS.heapMiBPerMin, 'MiB/min'),
    bounded('Open descriptors trend', slopes.fds, BOUNDS.fdsPerMin, '/min'),
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
  const rows: Table['rows'] = samples
    .filter((_, i) => i % every === 0)
    .map((s) => [s.t.toFixed(0), s.rssMiB.toFixed(1), s.heapMiB.toFixed(1), s.fds, s.inflight]);
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
      `${counts.errors} client-side errors, ${counts.hung} hung. Slopes fitted after the first ${warm[0]?.t.toFixed(0) ?? '?'} s.`,
    config: { minutes, workers: WORKERS, faultPeriodS: FAULT_PERIOD_MS / 1000, ...BOUNDS },
    wallMs: ctx.now() - t0,
    stats: [],
    samples: [],
    ratios: [],
    targets,
    tables: [
      { title: 'Samples', columns: ['s', 'RSS MiB', 'heap MiB', 'open fds', 'in flight'], rows },
      {
        title: 'Trends (least-squares slope after the warm-up)',
        columns: ['series', 'slope', 'bound'],
        rows: [
          ['RSS', `${slopes.rss.toFixed(3)} MiB/min`, `${BOUNDS.rssMiBPerMin} MiB/min`],
          ['heap used', `${slopes.heap.toFixed(3)} MiB/min`, `${BOUNDS.heapMiBPerMin} MiB/min`],
          ['open fds', `${slopes.fds.toFixed(3)} /min`, `${BOUNDS.fdsPerMin} /min`],
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
        lines: [line('RSS', '#1f77b4', (s) => s.rssMiB), line('heap used', '#2ca02c', (s) => s.heapMiB)],
      },
      {
        id: 'chart-soak-fds',
        title: 'open descriptors and requests in flight',
        xLabel: 's',
        yLabel: 'count',
        lines: [line('open fds', '#ff7f0e', (s) => s.fds), line('in flight', '#d62728', (s) => s.inflight)],
      },
    ],
  };
}

/** The sum of every sample of `name` in a Prometheus text exposition. */
function metric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
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

function bounded(name: string, value: number, bound: number, unit: string): Target {
  return {
    name,
    bar: `<= ${bound} ${unit}`,
    measured: `${value.toFixed(3)} ${unit}`,
    met: Number.isFinite(value) ? value <= bound : null,
  };
}
