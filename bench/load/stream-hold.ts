import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { SSE_CHUNKS } from '../processes/fixed-upstream.ts';
import { openLoop } from './loops.ts';

/**
 * The hold (issue 13): `streams` SSE requests open at once through a relay, each a slow stream
 * from the fixed upstream, every one read to its end. A stream counts as kept when it answered
 * 200 with all its data events and ended with `data: [DONE]`.
 */
export interface HoldResult {
  streams: number;
  kept: number;
  lost: number;
  wallS: number;
  /** The first few reasons a stream was lost. */
  reasons: string[];
}

/** Opens `streams` streams to `url` within `rampMs` (a burst of 2,000 SYNs overflows a backlog) and waits for all. */
export async function holdStreams(
  url: string,
  model: string,
  streams: number,
  rampMs = 1000,
): Promise<HoldResult> {
  // One socket per stream; a held stream's chunks may be 750 ms or more apart.
  const agent = new Agent({ connections: null, pipelining: 1, allowH2: false, bodyTimeout: 120_000 });
  const body = JSON.stringify({ model, prompt: 'Request 0', max_tokens: SSE_CHUNKS, stream: true });
  const reasons: string[] = [];
  const t0 = performance.now();
  const outcomes = await openLoop((streams * 1000) / rampMs, rampMs, async () => {
    try {
      const res = await request(`${url}/v1/completions`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await res.body.text();
      const events = text.match(/^data: /gm)?.length ?? 0;
      if (res.statusCode === 200 && events === SSE_CHUNKS + 1 && text.trimEnd().endsWith('data: [DONE]'))
        return true;
      reasons.push(`status ${res.statusCode}, ${events} data events`);
    } catch (err) {
      reasons.push((err as { code?: string }).code ?? (err as Error).message);
    }
    return false;
  });
  await agent.close();
  const kept = outcomes.filter(Boolean).length;
  return {
    streams: outcomes.length,
    kept,
    lost: outcomes.length - kept,
    wallS: (performance.now() - t0) / 1000,
    reasons: reasons.slice(0, 5),
  };
}

/** This process's soft limit on open files (children inherit it), from /proc/self/limits. */
export function openFilesLimit(): number {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line?.[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}
