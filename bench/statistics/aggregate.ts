import type { PathName, RequestSample } from '../load/clients/types.ts';
import { fmtMsProse, fmtPct } from '../reports/format.ts';
import { distribution, mean, type Summary, summarize } from './stats.ts';

/** MLPerf's standard (server) workload bars the report checked: TTFT p95 <= 2 s, TPOT p95 <= 100 ms. */
export const MLPERF = { ttftP95Ms: 2000, tpotP95Ms: 100 } as const;

/** Everything the report shows for one path and one model. */
export interface PathModelStats {
  path: PathName;
  model: string;
  requests: number;
  succeeded: number;
  successRate: number;
  attemptsMean: number;
  attemptsMax: number;
  attemptsDistribution: Array<[attempts: number, count: number]>;
  /** Successful requests only: a wrong-model answer has no meaningful first token. */
  ttft: Summary;
  /** The report's TTFT: the last attempt alone. */
  lastAttemptTtft: Summary;
  e2e: Summary;
  /** Streaming only (count 0 otherwise). */
  tpot: Summary;
  itl: Summary;
  tokensMean: number;
  /** Successful requests per second of the phase's wall time. */
  reqPerSec: number;
  errors: Record<string, number>;
  mlperf: { verdict: 'PASS' | 'FAIL'; reason: string };
}

/** The MLPerf verdict; a run that lost answers fails, whatever its latency. */
export function mlperfVerdict(
  ttftP95: number,
  tpotP95: number,
  successRate: number,
): PathModelStats['mlperf'] {
  const reasons: string[] = [];
  if (!(ttftP95 <= MLPERF.ttftP95Ms)) reasons.push(`TTFT p95 ${fmtMsProse(ttftP95)} > 2 s`);
  if (Number.isFinite(tpotP95) && tpotP95 > MLPERF.tpotP95Ms)
    reasons.push(`TPOT p95 ${fmtMsProse(tpotP95)} > 100 ms`);
  if (successRate < 1) reasons.push(`${fmtPct(successRate)} success`);
  if (reasons.length > 0) return { verdict: 'FAIL', reason: reasons.join('; ') };
  return {
    verdict: 'PASS',
    reason: Number.isFinite(tpotP95) ? 'TTFT and TPOT within bars' : 'TTFT within bar (TPOT needs streaming)',
  };
}

/**
 * Groups samples by path then model, in first-seen order, and summarizes each group. req/s is over
 * the group's own span (first start to last finish), so a slow path is not credited with a fast
 * path's wall time.
 */
export function aggregate(samples: readonly RequestSample[]): PathModelStats[] {
  const groups = new Map<string, RequestSample[]>();
  for (const s of samples) {
    const key = `${s.path}\u0000${s.model}`;
    const list = groups.get(key);
    if (list) list.push(s);
    else groups.set(key, [s]);
  }
  return [...groups.values()].map(summarizeGroup);
}

function summarizeGroup(list: RequestSample[]): PathModelStats {
  const first = list[0] as RequestSample;
  const begin = Math.min(...list.map((s) => s.startMs));
  const wallMs = Math.max(...list.map((s) => s.startMs + s.e2eMs)) - begin;
  const ok = list.filter((s) => s.ok);
  const errors: Record<string, number> = {};
  for (const s of list) if (!s.ok) errors[s.error ?? 'unknown'] = (errors[s.error ?? 'unknown'] ?? 0) + 1;
  const attempts = list.map((s) => s.attempts);
  const ttft = summarize(ok.flatMap((s) => (s.ttftMs === null ? [] : [s.ttftMs])));
  const tpot = summarize(ok.flatMap((s) => (s.tpotMs === null ? [] : [s.tpotMs])));
  const successRate = list.length ? ok.length / list.length : 0;
  return {
    path: first.path,
    model: first.model,
    requests: list.length,
    succeeded: ok.length,
    successRate,
    attemptsMean: mean(attempts),
    attemptsMax: Math.max(...attempts),
    attemptsDistribution: distribution(attempts),
    ttft,
    lastAttemptTtft: summarize(
      ok.flatMap((s) => (s.lastAttemptTtftMs === null ? [] : [s.lastAttemptTtftMs])),
    ),
    e2e: summarize(ok.map((s) => s.e2eMs)),
    tpot,
    itl: summarize(ok.flatMap((s) => s.itlMs)),
    tokensMean: mean(ok.map((s) => s.tokens)),
    reqPerSec: wallMs > 0 ? ok.length / (wallMs / 1000) : Number.NaN,
    errors,
    mlperf: mlperfVerdict(ttft.p95, tpot.count ? tpot.p95 : Number.NaN, successRate),
  };
}
