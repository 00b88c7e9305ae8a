import type { PathModelStats } from '../statistics/aggregate.ts';

/** Number formatting shared by the markdown, console and HTML writers and the scenarios' prose. */

/** Milliseconds as the report printed them: whole ms above 100, more digits below; `-` when absent. */
export function fmtMs(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value >= 100) return `${value.toFixed(0)}ms`;
  if (value >= 10) return `${value.toFixed(1)}ms`;
  return `${value.toFixed(2)}ms`;
}

/** A latency for prose: `1994 ms`, `12.3 s`, `0.42 ms` (tables use `fmtMs`); `n/a` when absent. */
export function fmtMsProse(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (Math.abs(value) >= 100) return `${value.toFixed(0)} ms`;
  if (Math.abs(value) >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

export function fmtPct(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : '-';
}

export function fmtNum(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** `microsoft/Phi-3-mini-4k-instruct` -> `Phi-3-mini-4k-instruct`. */
export function shortModel(model: string): string {
  return model.slice(model.lastIndexOf('/') + 1);
}

/** A target verdict for people: met, missed, or not measured here. */
export function verdict(met: boolean | null): string {
  return met === null ? '— not measured' : met ? '✓ MET' : '✗ MISSED';
}

/** The per-path row of a model's table, same columns everywhere. */
export const PATH_COLUMNS = [
  'Path',
  'Success',
  'Attempts mean',
  'Attempts max',
  'TTFT mean',
  'TTFT p50',
  'TTFT p95',
  'TTFT p99',
  'E2E p95',
  'TPOT mean',
  'TPOT p95',
  'Tokens/req',
  'req/s',
];

export function pathRow(s: PathModelStats): string[] {
  return [
    s.path,
    `${fmtPct(s.successRate)} (${s.succeeded}/${s.requests})`,
    fmtNum(s.attemptsMean),
    String(s.attemptsMax),
    fmtMs(s.ttft.mean),
    fmtMs(s.ttft.p50),
    fmtMs(s.ttft.p95),
    fmtMs(s.ttft.p99),
    fmtMs(s.e2e.p95),
    s.tpot.count ? fmtMs(s.tpot.mean) : 'n/a',
    s.tpot.count ? fmtMs(s.tpot.p95) : 'n/a',
    fmtNum(s.tokensMean),
    fmtNum(s.reqPerSec, 2),
  ];
}

export const MLPERF_COLUMNS = ['Model', 'Path', 'TTFT p95', 'TPOT p95', 'Compliant', 'Notes'];

/** One row of the MLPerf table (TTFT p95 <= 2 s, TPOT p95 <= 100 ms when streamed). */
export function mlperfRow(x: PathModelStats): string[] {
  return [
    shortModel(x.model),
    x.path,
    fmtMs(x.ttft.p95),
    x.tpot.count ? fmtMs(x.tpot.p95) : 'n/a (non-streaming)',
    x.mlperf.verdict === 'PASS' ? '✓ PASS' : '✗ FAIL',
    x.mlperf.reason,
  ];
}

/** Models in first-seen order. */
export function modelsOf(stats: readonly PathModelStats[]): string[] {
  return [...new Set(stats.map((s) => s.model))];
}
