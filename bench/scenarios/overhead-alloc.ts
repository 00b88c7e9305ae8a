import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { runLoad } from '../load/autocannon-run.ts';
import type { ComparisonSpec } from '../load/relay-comparison.ts';
import { startShippedBackstop } from '../processes/backstop.ts';
import { startFloor } from '../processes/floor.ts';
import type { RunContext } from './types.ts';

const PROBE = fileURLToPath(new URL('../processes/alloc-probe.mjs', import.meta.url));

/** Bytes of JavaScript heap one JSON request allocates in a relay, and what it was read over. */
export interface AllocationFigure {
  bytesPerRequest: number;
  requests: number;
  gcs: number;
}

/** The floor's and backstop's, or why they were not measured. */
export type AllocationFigures = { floor: AllocationFigure; backstop: AllocationFigure } | { skipped: string };

/**
 * The overhead scenario's allocation phase (issue 13): the heap bytes one JSON request allocates
 * in the floor and in backstop, each a fresh process with the allocation probe preloaded
 * (bench/processes/alloc-probe.mjs), at saturation with the comparison's connections. Unlike CPU
 * time it does not move with the machine's load, so it shows a hot-path change's effect in one
 * run, where the CPU ratios need many. It is a figure, not a bar.
 */
export async function allocationPhase(
  ctx: RunContext,
  upstreamUrl: string,
  spec: ComparisonSpec,
  durationS: number,
): Promise<AllocationFigures> {
  if (ctx.opts.backstop) return { skipped: 'not run: an external backstop (--backstop)' };
  const dir = mkdtempSync(join(tmpdir(), 'backstop-bench-alloc-'));
  try {
    const report = join(dir, 'floor.json');
    const floor = await startFloor(upstreamUrl, undefined, ['--import', PROBE], {
      BENCH_ALLOC_REPORT: report,
    });
    let floorFigure: AllocationFigure;
    try {
      floorFigure = await measure(ctx, 'floor', floor.url, floor.pid, report, spec, durationS);
    } finally {
      await floor.stop();
    }
    const bsReport = join(dir, 'backstop.json');
    const bs = await startShippedBackstop(
      upstreamUrl,
      { ...ctx.opts.backstopEnv, BENCH_ALLOC_REPORT: bsReport },
      { nodeFlags: ['--import', PROBE] },
    );
    try {
      const pid = bs.child.pid as number;
      return {
        floor: floorFigure,
        backstop: await measure(ctx, 'backstop', bs.url, pid, bsReport, spec, durationS),
      };
    } finally {
      await bs.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A warm-up, then one saturation step between the probe's two signals. */
async function measure(
  ctx: RunContext,
  name: string,
  url: string,
  pid: number,
  report: string,
  spec: ComparisonSpec,
  durationS: number,
): Promise<AllocationFigure> {
  const progress = ctx.progress(`overhead: heap allocated per JSON request, ${name}`, 0);
  const load = { url, models: spec.models, maxTokens: spec.maxTokens, connections: spec.jsonConnections };
  // JIT-compiled and pooled first: what a cold start allocates is not the request's.
  await runLoad({ ...load, durationS: 1 });
  process.kill(pid, 'SIGUSR2');
  const result = await runLoad({ ...load, durationS });
  process.kill(pid, 'SIGUSR2');
  const read = await waitForReport(report);
  progress.end();
  return { bytesPerRequest: read.allocatedBytes / result.requests, requests: result.requests, gcs: read.gcs };
}

/** The probe writes its report when it handles the second signal: soon, but not at once. */
async function waitForReport(path: string): Promise<{ allocatedBytes: number; gcs: number }> {
  const giveUpAt = Date.now() + 5000;
  for (;;) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as { allocatedBytes: number; gcs: number };
    } catch (error) {
      if (Date.now() > giveUpAt) throw new Error(`the allocation probe wrote no report to ${path}: ${error}`);
      await delay(20);
    }
  }
}
