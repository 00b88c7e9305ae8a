import type { RunContext } from '../../scenarios/types.ts';
import { backstopClient } from './backstop.ts';
import { clientLoop } from './client-loop.ts';
import { directClient } from './direct.ts';
import type { PathClient, Workload } from './types.ts';

/**
 * The three paths every comparison runs side by side: direct (no retries), the report's client
 * loop (check `model`, sleep, up to 10 attempts) and backstop.
 */
export function threePaths(
  ctx: RunContext,
  gatewayUrl: string,
  backstopUrl: string,
  w: Workload,
): PathClient[] {
  return [
    directClient(ctx.dispatcher, gatewayUrl, w, ctx.now),
    clientLoop(ctx.dispatcher, gatewayUrl, w, ctx.now, { maxAttempts: 10, sleepMs: ctx.opts.loopSleepMs }),
    backstopClient(ctx.dispatcher, backstopUrl, w, ctx.now),
  ];
}
