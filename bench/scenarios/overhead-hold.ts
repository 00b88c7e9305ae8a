import { holdStreams, openFilesLimit } from '../load/stream-hold.ts';
import { SSE_CHUNKS, startFixedUpstream } from '../processes/fixed-upstream.ts';
import { startFloor } from '../processes/floor.ts';
import { startMeter } from '../processes/proc-meter.ts';
import type { HeldPeak, HoldFigures } from '../statistics/footprint.ts';
import type { RunContext } from './types.ts';

/**
 * The overhead scenario's hold (issue 13: "2,000 concurrent streams held for 30 s"): the floor,
 * then a fresh backstop, each in front of a fixed upstream of its own that spaces its 40 chunks
 * over `holdS`, all the streams opened within a second and read to the end. Each has its pool
 * widened to the stream count (backstop's default 256 connections would queue the rest upstream,
 * and nothing would be held). The floor's peak is what the same stack (node:http and an undici
 * Pool) holds for the same streams; the bar is on backstop's.
 */
export async function holdPhase(ctx: RunContext, streams: number, holdS: number): Promise<HoldFigures> {
  // Each held stream is a socket in the client, two in the relay and one in the upstream.
  const need = 2 * streams + 256;
  const limit = openFilesLimit();
  if (!(limit >= need))
    return {
      skipped: `not run: ulimit -n is ${limit}, ${streams} streams need ${need} (raise it: ulimit -n ${need})`,
    };
  const connections = streams + 64;
  const floor = await holdThrough(ctx, 'floor', streams, holdS, async (upstreamUrl) => {
    const relay = await startFloor(upstreamUrl, connections);
    return { url: relay.url, pid: relay.pid, stop: relay.stop };
  });
  if ('skipped' in floor) return floor;
  const backstop = await holdThrough(ctx, 'backstop', streams, holdS, async (upstreamUrl) => {
    const bs = await ctx.backstop(upstreamUrl, { UPSTREAM_CONNECTIONS: String(connections) });
    // ctx stops it at cleanup; its sockets are closed by then.
    return { url: bs.url, pid: bs.pid, stop: async () => {} };
  });
  return 'skipped' in backstop ? backstop : { ...backstop, floor };
}

interface HeldRelay {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** One relay's hold: a fresh process, so its VmHWM is this hold's peak (start-up is far lower). */
async function holdThrough(
  ctx: RunContext,
  name: string,
  streams: number,
  holdS: number,
  start: (upstreamUrl: string) => Promise<HeldRelay>,
): Promise<HeldPeak | { skipped: string }> {
  const upstream = await startFixedUpstream({ chunkIntervalMs: (holdS * 1000) / SSE_CHUNKS });
  try {
    const relay = await start(upstream.url);
    try {
      const { pid } = relay;
      if (pid === undefined) return { skipped: 'not run: an external backstop (--backstop)' };
      const progress = ctx.progress(`overhead: ${streams} streams held for ${holdS} s through ${name}`, 0);
      const meter = startMeter(() => [pid], 200);
      const result = await holdStreams(relay.url, ctx.opts.models[0] as string, streams);
      const usage = meter.stop();
      progress.end();
      return { result, peakRssBytes: usage.peakRssBytes, peakAnonBytes: usage.peakAnonBytes };
    } finally {
      await relay.stop();
    }
  } finally {
    await upstream.stop();
  }
}
