import type { Phase, RunContext } from '../scenarios/types.ts';
import type { RequestSample } from './clients/types.ts';
import { closedLoop, openLoop } from './loops.ts';

/**
 * Runs every client of a phase at once, each through its own closed loop of `requests` requests
 * alternating over the models, so all paths see the same gateway weather (flapping is random per
 * request, outages are timed). Sample start times are rebased to the phase start.
 */
export async function runClosedPhase(ctx: RunContext, label: string, phase: Phase): Promise<RequestSample[]> {
  const progress = ctx.progress(label, phase.requests * phase.clients.length);
  const t0 = ctx.now();
  const n = phase.models.length;
  const results = await Promise.all(
    phase.clients.map((client) =>
      closedLoop(
        phase.requests,
        phase.concurrency,
        (i) => client.send(phase.models[i % n] as string, i),
        (s) => progress.done(s),
      ),
    ),
  );
  progress.end();
  return rebase(results.flat(), t0);
}

/** Like `runClosedPhase`, at a fixed arrival rate per client for `durationMs`. */
export async function runOpenPhase(
  ctx: RunContext,
  label: string,
  phase: Omit<Phase, 'requests' | 'concurrency'>,
  rate: number,
  durationMs: number,
): Promise<RequestSample[]> {
  const progress = ctx.progress(label, Math.floor((rate * durationMs) / 1000) * phase.clients.length);
  const t0 = ctx.now();
  const n = phase.models.length;
  const results = await Promise.all(
    phase.clients.map((client) =>
      openLoop(
        rate,
        durationMs,
        (i) => client.send(phase.models[i % n] as string, i),
        (s) => progress.done(s),
      ),
    ),
  );
  progress.end();
  return rebase(results.flat(), t0);
}

function rebase(samples: RequestSample[], t0: number): RequestSample[] {
  for (const s of samples) s.startMs -= t0;
  return samples;
}
