import type { BenchOptions } from '../options.ts';
import type { ScenarioResult } from '../scenarios/types.ts';

/** Everything one `npm run bench` produced: what report.json holds and every writer reads. */
export interface RunReport {
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  environment: {
    node: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    /** The commit measured (`git rev-parse --short HEAD`, `-dirty` with local changes). */
    commit: string;
  };
  scenarios: ScenarioResult[];
}
