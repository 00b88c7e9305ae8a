import type { Ratio, Target } from '../scenarios/types.ts';
import type { PathModelStats } from './aggregate.ts';
import { ratio } from './stats.ts';

/** Issue 9's bar: backstop's TTFT p95 under misroutes within 1.05x of the same gateway without them. */
export const RETRY_TAX_BAR = 1.05;

/**
 * Per model: backstop's and the client loop's TTFT p95 over the reference (flapping off) TTFT p95,
 * all measured in the same run. `referencePath` is `reference` on the embedded simulator, or
 * `direct` (its first-try successes) against a real gateway, whose flapping cannot be turned off.
 */
export function retryTax(
  stats: readonly PathModelStats[],
  models: readonly string[],
  referencePath: 'reference' | 'direct',
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
        name: `retry tax, backstop, ${short(model)}`,
        value,
        detail: `TTFT p95 ${ms(bs.ttft.p95)} vs ${ms(ref.ttft.p95)} (${refLabel})`,
      });
      targets.push({
        name: `Retry tax, ${short(model)}`,
        bar: `backstop TTFT p95 <= ${RETRY_TAX_BAR.toFixed(2)}x ${refLabel}`,
        measured: `${value.toFixed(2)}x (${ms(bs.ttft.p95)} vs ${ms(ref.ttft.p95)})`,
        met: Number.isFinite(value) ? value <= RETRY_TAX_BAR : null,
      });
    }
    if (loop) {
      ratios.push({
        name: `retry tax, client-loop, ${short(model)}`,
        value: ratio(loop.ttft.p95, ref.ttft.p95),
        detail: `TTFT p95 ${ms(loop.ttft.p95)} vs ${ms(ref.ttft.p95)}: ${ms(loop.ttft.p95 - ref.ttft.p95)} more`,
      });
    }
    if (bs && loop) {
      ratios.push({
        name: `client-loop / backstop TTFT p95, ${short(model)}`,
        value: ratio(loop.ttft.p95, bs.ttft.p95),
        detail: `${ms(loop.ttft.p95)} vs ${ms(bs.ttft.p95)}`,
      });
    }
  }
  return { ratios, targets };
}

/** `microsoft/Phi-3-mini-4k-instruct` -> `Phi-3-mini-4k-instruct`. */
export function short(model: string): string {
  return model.slice(model.lastIndexOf('/') + 1);
}

/** A latency for prose: `1994 ms`, `12.3 s`, `0.42 ms`. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (Math.abs(value) >= 100) return `${value.toFixed(0)} ms`;
  if (Math.abs(value) >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}
