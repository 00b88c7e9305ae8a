import type { ScenarioName } from '../options.ts';
import type { ScenarioResult } from './types.ts';

/** A scenario that could not run here, and why; the report says so instead of leaving a gap. */
export function skipped(name: ScenarioName, title: string, reason: string): ScenarioResult {
  return {
    name,
    title,
    summary: `Skipped: ${reason}.`,
    config: {},
    wallMs: 0,
    stats: [],
    samples: [],
    ratios: [],
    targets: [],
    tables: [],
    findings: [],
    skipped: reason,
  };
}
