import { setTimeout as sleep } from 'node:timers/promises';

/** The two ways the suite offers work: a fixed number of workers, or a fixed arrival rate. */

/**
 * Closed loop: runs `count` jobs with at most `concurrency` in flight, in index order, and returns
 * their results in index order. `onDone` sees each result as it lands (the progress line).
 */
export async function closedLoop<T>(
  count: number,
  concurrency: number,
  job: (index: number) => Promise<T>,
  onDone?: (result: T) => void,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const result = await job(index);
      results[index] = result;
      onDone?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/**
 * Open loop: starts job i at `i / rate` seconds for `durationMs`, whether or not earlier jobs have
 * finished (a fixed arrival rate, so a slow path cannot slow its own offered load), then waits for
 * every job. Arrival times are absolute, so timer drift does not accumulate.
 */
export async function openLoop<T>(
  rate: number,
  durationMs: number,
  job: (index: number) => Promise<T>,
  onDone?: (result: T) => void,
  now: () => number = () => performance.now(),
): Promise<T[]> {
  const total = Math.max(1, Math.floor((rate * durationMs) / 1000));
  const started: Promise<T>[] = [];
  const t0 = now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    started.push(
      job(i).then((result) => {
        onDone?.(result);
        return result;
      }),
    );
  }
  return Promise.all(started);
}
