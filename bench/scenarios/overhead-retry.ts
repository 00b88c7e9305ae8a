import { DEFAULT_MODELS } from '../../src/simulator/index.ts';
import type { LoadResult } from '../load/autocannon-run.ts';
import { runPacedLoad } from '../load/paced-load.ts';
import { startMeter } from '../processes/proc-meter.ts';
import type { RunContext } from './types.ts';

/** The even rate of the retry path: well below saturation, so the figures are the path's cost. */
export const RETRY_RATE = 200;

/** One row of the retry path: latency, backstop's CPU per request, upstream attempts per request. */
export interface RetryRow {
  label: string;
  run: LoadResult;
  cpuUsPerRequest: number;
  attemptsPerRequest: number;
}

/**
 * The retry and verification path (issue 13: "so that the common case is not made fast at their
 * expense"): backstop in front of the simulator at time scale 0, one model, first with every
 * request reaching its own pod, then with the discovery picker seeing that pod half the time and
 * the other model's pod always: 50% independent misroutes, each a 200 from the wrong model that
 * backstop must read, reject and retry. Needs the embedded simulator (`--gateway`: undefined).
 */
export async function retryPhase(ctx: RunContext, durationS: number): Promise<RetryRow[] | undefined> {
  if (ctx.opts.gateway) return undefined;
  const model = ctx.opts.models[0] as string;
  const visibility = Object.fromEntries(DEFAULT_MODELS.map((m) => [m.name, m.name === model ? 0.5 : 1]));
  const gw = await ctx.gateway({
    seed: ctx.opts.seed,
    timeScale: 0,
    faults: { flapping: false, picker: 'discovery', visibility, misroute: 'wrong-model-200' },
  });
  const sim = gw.sim;
  if (!sim) return undefined;
  const bs = await ctx.backstop(gw.url);
  const pid = bs.pid;
  const paced = (seconds: number) =>
    runPacedLoad({
      url: bs.url,
      models: [model],
      maxTokens: 15,
      durationS: seconds,
      rate: RETRY_RATE,
      connections: 64,
    });
  await paced(Math.min(1, durationS));
  const rows: RetryRow[] = [];
  for (const [label, flapping] of [
    ['no misroutes', false],
    ['50% misroutes (wrong model, 200)', true],
  ] as const) {
    await sim.setFaults({ flapping });
    await sim.resetStats();
    const progress = ctx.progress(`overhead: retry path, ${label}, ${RETRY_RATE} req/s`, 0);
    const meter = startMeter(() => (pid ? [pid] : []));
    const run = await paced(durationS);
    const usage = meter.stop();
    const received = ((await sim.stats()) as { received: number }).received;
    progress.end();
    rows.push({
      label,
      run,
      cpuUsPerRequest: pid && run.requests ? (usage.cpuSeconds * 1e6) / run.requests : Number.NaN,
      attemptsPerRequest: run.requests ? received / run.requests : Number.NaN,
    });
  }
  return rows;
}
