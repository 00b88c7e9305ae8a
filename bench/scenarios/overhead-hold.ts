import { holdStreams, openFilesLimit } from '../load/stream-hold.ts';
import { SSE_CHUNKS, startFixedUpstream } from '../processes/fixed-upstream.ts';
import { startMeter } from '../processes/proc-meter.ts';
import type { HoldFigures } from '../statistics/footprint.ts';
import type { RunContext } from './types.ts';

/**
 * The overhead scenario's hold (issue 13: "2,000 concurrent streams held for 30 s"): a fresh
 * backstop in front of a fixed upstream that spaces its 40 chunks over `holdS`, all the streams
 * opened within a second and read to the end. backstop's pool is widened to the stream count (its
 * default 256 connections would queue the rest upstream, and nothing would be held).
 */
export async function holdPhase(ctx: RunContext, streams: number, holdS: number): Promise<HoldFigures> {
  // Each held stream is a socket in the client, two in backstop and one in the upstream.
  const need = 2 * streams + 256;
  const limit = openFilesLimit();
  if (!(limit >= need))
    return {
      skipped: `not run: ulimit -n is ${limit}, ${streams} streams need ${need} (raise it: ulimit -n ${need})`,
    };
  const upstream = await startFixedUpstream({ chunkIntervalMs: (holdS * 1000) / SSE_CHUNKS });
  try {
    const bs = await ctx.backstop(upstream.url, { UPSTREAM_CONNECTIONS: String(streams + 64) });
    const pid = bs.pid;
    if (pid === undefined) return { skipped: 'not run: an external backstop (--backstop)' };
    const progress = ctx.progress(`overhead: ${streams} streams held for ${holdS} s through backstop`, 0);
    // A fresh process: its VmHWM is this hold's peak (start-up included, which is far lower).
    const meter = startMeter(() => [pid], 200);
    const result = await holdStreams(bs.url, ctx.opts.models[0] as string, streams);
    const usage = meter.stop();
    progress.end();
    return { result, peakRssBytes: usage.peakRssBytes };
  } finally {
    await upstream.stop();
  }
}
