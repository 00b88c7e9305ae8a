import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { type AttemptResult, sendAttempt } from './attempt.ts';
import { toSample } from './sample.ts';
import type { PathClient, Workload } from './types.ts';

/** The report's client loop (pattern2_benchmark_retry.py): fixed sleep, fixed attempt cap. */
export interface LoopOptions {
  maxAttempts: number;
  /** The report's script slept 2 s between attempts; the smoke test shortens it with `--loop-sleep-ms`. */
  sleepMs: number;
}

export const REPORT_LOOP: LoopOptions = { maxAttempts: 10, sleepMs: 2000 };

/**
 * The report's client loop, faithfully: send, check that `model` is the one asked for, otherwise sleep
 * and try again, up to `maxAttempts`. TTFT counts from the first attempt, sleeps included: that is
 * what the user waited. (The report's own TTFT timed the last attempt only; we keep that figure as
 * `lastAttemptTtftMs` so the two reports can be compared.)
 */
export function clientLoop(
  dispatcher: Dispatcher,
  baseUrl: string,
  w: Workload,
  clock: () => number,
  loop: LoopOptions = REPORT_LOOP,
): PathClient {
  return {
    name: 'client-loop',
    async send(model, seq) {
      const startMs = clock();
      let first: AttemptResult | undefined;
      let last: AttemptResult | undefined;
      let attempts = 0;
      while (attempts < loop.maxAttempts) {
        attempts++;
        last = await sendAttempt(dispatcher, baseUrl, model, seq, w, model);
        first ??= last;
        if (last.status === 200 && last.servedModel === model && last.error === undefined) break;
        if (attempts < loop.maxAttempts) await sleep(loop.sleepMs);
      }
      // maxAttempts >= 1, so the loop ran at least once.
      return toSample('client-loop', model, startMs, first as AttemptResult, last as AttemptResult, attempts);
    },
  };
}
