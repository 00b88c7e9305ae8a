import type { AttemptResult } from './attempt.ts';
import type { PathName, RequestSample } from './types.ts';

/**
 * Folds the first and last attempt of a logical request into its sample. Success is the report's
 * test, applied to every path alike: status 200 and the `model` we asked for.
 */
export function toSample(
  path: PathName,
  model: string,
  startMs: number,
  first: AttemptResult,
  last: AttemptResult,
  attempts: number,
): RequestSample {
  const ok = last.status === 200 && last.servedModel === model && last.error === undefined;
  const offset = last.startMs - first.startMs;
  const sample: RequestSample = {
    path,
    model,
    ok,
    attempts,
    status: last.status,
    startMs,
    ttftMs: ok && last.ttftMs !== null ? offset + last.ttftMs : null,
    lastAttemptTtftMs: ok ? last.ttftMs : null,
    e2eMs: last.endMs - first.startMs,
    tokens: ok ? last.tokens : 0,
    tpotMs: ok ? last.tpotMs : null,
    itlMs: ok ? last.itlMs : [],
  };
  if (!ok) sample.error = last.error ?? describeFailure(last, model);
  return sample;
}

function describeFailure(last: AttemptResult, model: string): string {
  if (last.status !== 200) return `status ${last.status}`;
  if (last.servedModel !== model) return `model ${last.servedModel ?? 'missing'}`;
  return 'unknown';
}
