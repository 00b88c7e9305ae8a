import type { RunReport } from './types.ts';

/**
 * report.json: the whole run, raw samples included, for re-analysis. Missing figures (NaN) become
 * null, which is what JSON.stringify does with them anyway; infinities likewise.
 */
export function renderJson(report: RunReport): string {
  return `${JSON.stringify(report, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`;
}
