import type { Agent } from 'undici';
import type { PathClient, RequestSample } from '../load/clients/types.ts';
import type { BenchOptions, ScenarioName } from '../options.ts';
import type { Usage } from '../processes/proc-meter.ts';
import type { SimHandle, SimOptions } from '../processes/simulator.ts';
import type { Series } from '../reports/svg-charts.ts';
import type { PathModelStats } from '../statistics/aggregate.ts';
import type { ProfileSummary } from '../statistics/profile.ts';

/** The gateway a scenario talks to: an embedded simulator it configured, or `--gateway`. */
export interface Gateway {
  url: string;
  /** Present only for the embedded simulator: fault control and request counts. */
  sim: SimHandle | undefined;
}

/** backstop in front of a gateway: started by the suite, or `--backstop`. */
export interface BackstopTarget {
  url: string;
  /** Absent for an external backstop: its CPU and RSS are then not measured. */
  pid: number | undefined;
  /** The admin listener (/metrics); absent for an external backstop. */
  adminUrl?: string;
}

/** What every scenario gets: options, the shared HTTP client, process starters, progress output. */
export interface RunContext {
  opts: BenchOptions;
  outDir: string;
  dispatcher: Agent;
  /** Starts (and registers for cleanup) an embedded simulator, or returns `--gateway`. */
  gateway(options: SimOptions): Promise<Gateway>;
  /** Starts (and registers for cleanup) backstop in front of `upstreamUrl`, or returns `--backstop`. */
  backstop(upstreamUrl: string, env?: Record<string, string>): Promise<BackstopTarget>;
  /** Stops what `gateway` and `backstop` started, newest first. */
  cleanup(): Promise<void>;
  /** A progress line for a phase of `total` requests (0: unknown). */
  progress(label: string, total: number): Progress;
  /** Milliseconds on a monotonic clock. */
  now(): number;
}

export interface Progress {
  done(sample: RequestSample): void;
  end(): void;
}

/** A table the report renders as is: markdown, console and HTML alike. */
export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  note?: string;
}

/** A ratio measured within one run: how the report states costs, never as lone absolute times. */
export interface Ratio {
  name: string;
  value: number;
  detail: string;
}

/** A performance target from the issue: the bar, what was measured, and whether it was met. */
export interface Target {
  name: string;
  bar: string;
  measured: string;
  /** null: not measurable in this run (say why in `measured`). */
  met: boolean | null;
  /** One of the bars `--check` enforces (the overhead scenario's footprint bars). */
  check?: boolean;
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  /** One paragraph: what ran and how. */
  summary: string;
  config: Record<string, string | number | boolean>;
  wallMs: number;
  stats: PathModelStats[];
  /** Raw per-request samples for the charts and for re-analysis from report.json. */
  samples: RequestSample[];
  ratios: Ratio[];
  targets: Target[];
  tables: Table[];
  /** Time series for report.html (the soak's samples). */
  series?: Array<{ id: string; title: string; xLabel: string; yLabel: string; lines: Series[] }>;
  findings: string[];
  backstopUsage?: Usage & { requests: number; cpuUsPerRequest: number };
  profile?: ProfileSummary;
  /** A latency CDF from load runs without per-request samples (overhead): per path, (ms, fraction). */
  latencyCdf?: { title: string; series: Array<{ path: string; points: Array<[number, number]> }> };
  skipped?: string;
}

export type Scenario = (ctx: RunContext) => Promise<ScenarioResult>;

/** Path clients of one phase, all sending `requests` alternating over the models. */
export interface Phase {
  clients: PathClient[];
  requests: number;
  concurrency: number;
  models: readonly string[];
}
