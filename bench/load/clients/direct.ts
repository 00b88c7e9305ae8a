import type { Dispatcher } from 'undici';
import { sendAttempt } from './attempt.ts';
import { toSample } from './sample.ts';
import type { PathClient, PathName, Workload } from './types.ts';

/**
 * One request, no retries: what a naive client of the gateway sees. Also used, under other names,
 * for the flapping-off `reference` and for `nginx`.
 */
export function directClient(
  dispatcher: Dispatcher,
  baseUrl: string,
  w: Workload,
  clock: () => number,
  name: PathName = 'direct',
): PathClient {
  return oneRequestClient(dispatcher, baseUrl, w, clock, name, () => 1);
}

/** One HTTP exchange per request; `attemptsOf` says how many upstream attempts it stood for. */
export function oneRequestClient(
  dispatcher: Dispatcher,
  baseUrl: string,
  w: Workload,
  clock: () => number,
  name: PathName,
  attemptsOf: (attempt: Awaited<ReturnType<typeof sendAttempt>>) => number,
): PathClient {
  return {
    name,
    async send(model, seq) {
      const startMs = clock();
      const attempt = await sendAttempt(dispatcher, baseUrl, model, seq, w);
      return toSample(name, model, startMs, attempt, attempt, attemptsOf(attempt));
    },
  };
}
