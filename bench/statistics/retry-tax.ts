import { fmtMsProse, shortModel } from '../reports/format.ts';
import type { Ratio, Target } from '../scenarios/types.ts';
import type { PathModelStats } from './aggregate.ts';
import { ratio } from './stats.ts';

/** Issue 9's bar: backstop's TTFT p95 under misroutes within 1.05x of the same gateway without them. */
export const RETRY_TAX_BAR = 1.05;

/**
 * Per model: backstop's and the client loop's TTFT p95 over the reference (flapping off) TTFT p95,
 * all measured in the same run with `load` requests in flight. `referencePath` is `reference` on
 * the embedded simulator, or `direct` (its first-try successes) against a real gateway, whose
 * flapping cannot be turned off. Above one in flight the picker's capacity limit is part of the
 * figure (the retry_tax scenario has the tax by load).
 */
export function retryTax(
  stats: readonly PathModelStats[],
  models: readonly string[],
  referencePath: 'reference' | 'direct',
  load: number,
): { ratios: Ratio[]; targets: Target[] } {
  const ratios: Ratio[] = [];
  const targets: Target[] = [];
  const find = (path: string, model: string) => stats.find((s) => s.path === path && s.model === model);
  for (const model of models) {
    const ref = find(referencePath, model);
    const bs = find('backstop', model);
    const loop = find('client-loop', model);
    if (!ref) continue;
    const refLabel = referencePath === 'reference' ? 'flapping off' : 'direct first-try successes';
    if (bs) {
      const value = ratio(bs.ttft.p95, ref.ttft.p95);
      ratios.push({
        name: `retry tax, backstop, ${shortModel(model)}`,
        value,
        detail: `TTFT p95 ${fmtMsProse(bs.ttft.p95)} vs ${fmtMsProse(ref.ttft.p95)} (${refLabel})`,
      });
      targets.push({
        name: `Retry tax at ${load} in flight, ${shortModel(model)}`,
        bar: `backstop TTFT p95 <= ${RETRY_TAX_BAR.toFixed(2)}x ${refLabel}`,
        measured: `${value.toFixed(2)}x (${fmtMsProse(bs.ttft.p95)} vs ${fmtMsProse(ref.ttft.p95)})`,
        met: Number.isFinite(value) ? value <= RETRY_TAX_BAR : null,
      });
    }
    if (loop) {
      ratios.push({
        name: `retry tax, client-loop, ${shortModel(model)}`,
        value: ratio(loop.ttft.p95, ref.ttft.p95),
        detail: `TTFT p95 ${fmtMsProse(loop.ttft.p95)} vs ${fmtMsProse(ref.ttft.p95)}: ${fmtMsProse(loop.ttft.p95 - ref.ttft.p95)} more`,
      });
    }
    if (bs && loop) {
      ratios.push({
        name: `client-loop / backstop TTFT p95, ${shortModel(model)}`,
        value: ratio(loop.ttft.p95, bs.ttft.p95),
        detail: `${fmtMsProse(loop.ttft.p95)} vs ${fmtMsProse(bs.ttft.p95)}`,
      });
    }
  }
  return { ratios, targets };
}
