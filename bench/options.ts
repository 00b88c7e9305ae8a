import { parseArgs } from 'node:util';
import type { Workload } from './load/clients/types.ts';
import { BAR_NAMES, type BarName, FOOTPRINT_BARS } from './statistics/footprint.ts';

/** The scenarios `--scenario` names, in the order `all` runs them (the soak is left out of `all`). */
export const SCENARIOS = [
  'quick_validation',
  'retry_tax',
  'misroutes',
  'streaming',
  'sustained',
  'overhead',
  'outage',
  'soak',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The command line, parsed and defaulted: what every scenario reads, and report.json's `options`. */
export interface BenchOptions {
  scenarios: ScenarioName[];
  gateway: string | undefined;
  backstop: string | undefined;
  models: string[];
  requests: number | undefined;
  rate: number | undefined;
  durationS: number | undefined;
  /** soak: minutes of steady traffic (default 10). */
  minutes: number | undefined;
  concurrency: number | undefined;
  seed: number;
  out: string | undefined;
  timeScale: number;
  loopSleepMs: number;
  streams: number;
  maxTokens: number | undefined;
  api: Workload['api'];
  timeoutMs: number;
  profile: boolean;
  backstopEnv: Record<string, string>;
  /** overhead: run only the footprint comparison and exit 1 when a bar is missed. */
  check: boolean;
  /** overhead: alternated repetitions of the comparison (default 3). */
  repetitions: number | undefined;
  /** overhead: seconds each held stream lasts (default 30). */
  holdS: number | undefined;
  /** overhead: bars overridden with `--bar NAME=VALUE` (for the tests of `--check`). */
  bars: Partial<Record<BarName, number>>;
}

/** The command line of `npm run bench`; `--help` prints this. */
export const USAGE = `usage: npm run bench -- [options]

  --scenario NAME      quick_validation | retry_tax | misroutes | soak | streaming | sustained | overhead | outage | all (default quick_validation)
  --gateway URL        a real Pattern 2 gateway (default: the embedded simulator, started by the suite)
  --backstop URL       an already running backstop in front of that gateway (default: the suite starts one)
  --models A,B         models to send (default: microsoft/Phi-3-mini-4k-instruct,google/gemma-2b-it)
  --requests N         requests per path (quick_validation, streaming; default 50)
  --rate N             req/s (sustained, outage: per path; overhead: the even-rate step, default 2000)
  --duration S         seconds (sustained 30, outage 30, overhead 5 per step)
  --minutes N          soak: minutes of steady mixed traffic with every fault cycling (default 10)
  --concurrency N      in flight per path (default 10); overhead: connections at JSON saturation (default 50)
  --streams N          concurrent streams (streaming: the scale run; overhead: the hold) (default 2000)
  --max-tokens N       default 15 (streaming: 50)
  --api NAME           completions | chat (default completions, as the report)
  --seed N             simulator seed (default 42)
  --time-scale X       embedded simulator timing: 1 = T4 (default), 0.01 = 100x faster
  --loop-sleep-ms N    the client loop's sleep between attempts (default 2000, the report's)
  --timeout-ms N       per-attempt limit of the bench client (default 25000, the report's curl --max-time)
  --backstop-env K=V   extra environment for the backstop the suite starts (repeatable)
  --no-profile         skip the CPU profile of backstop in the overhead scenario
  --check              overhead only: the footprint comparison alone; exit 1 when a bar is missed
  --repetitions N      overhead: alternated repetitions, medians reported (default 3)
  --hold S             overhead: seconds each of the --streams held streams lasts (default 30)
  --bar NAME=VALUE     overhead: override one bar of --check (for tests; names: ${BAR_NAMES.join(', ')})
  --out DIR            write report.{md,json,html} here (default bench/results/<timestamp>-<scenario>/)
`;

const MODELS = ['microsoft/Phi-3-mini-4k-instruct', 'google/gemma-2b-it'];

/**
 * The options with nothing given: what `parseOptions([])` returns. A field left undefined takes
 * its scenario's own default (`--requests` is 50 for quick_validation, 200 for misroutes).
 */
export function defaultOptions(): BenchOptions {
  return {
    scenarios: ['quick_validation'],
    gateway: undefined,
    backstop: undefined,
    models: [...MODELS],
    requests: undefined,
    rate: undefined,
    durationS: undefined,
    minutes: undefined,
    concurrency: undefined,
    seed: 42,
    out: undefined,
    timeScale: 1,
    loopSleepMs: 2000,
    streams: 2000,
    maxTokens: undefined,
    api: 'completions',
    timeoutMs: 25_000,
    profile: true,
    backstopEnv: {},
    check: false,
    repetitions: undefined,
    holdS: undefined,
    bars: {},
  };
}

/**
 * The one reader of a numeric command-line value, for the bench and the demo alike: `undefined`
 * when the option was not given, else a finite number >= `min` (and whole, when `integer`), or an
 * Error naming the option. `Number('')` is 0, so an empty value is refused before it can pass.
 */
export function numberOption(
  name: string,
  raw: string | undefined,
  rule: { min: number; integer?: boolean },
): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  const integer = rule.integer === true;
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    value < rule.min ||
    (integer && !Number.isInteger(value))
  )
    throw new Error(`--${name} ${raw}: expected ${integer ? 'an integer' : 'a number'} >= ${rule.min}`);
  return value;
}

const num = (name: string, raw: string | undefined, min: number) => numberOption(name, raw, { min });
const int = (name: string, raw: string | undefined, min: number) =>
  numberOption(name, raw, { min, integer: true });

function url(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return new URL(value).toString().replace(/\/$/, '');
  } catch {
    throw new Error(`--${name} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
}

/** Parses argv (without node and the script); throws an Error whose message is the complaint. */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: { type: 'string' },
      gateway: { type: 'string' },
      backstop: { type: 'string' },
      models: { type: 'string' },
      requests: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      minutes: { type: 'string' },
      concurrency: { type: 'string' },
      streams: { type: 'string' },
      'max-tokens': { type: 'string' },
      api: { type: 'string', default: 'completions' },
      seed: { type: 'string' },
      'time-scale': { type: 'string' },
      'loop-sleep-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'backstop-env': { type: 'string', multiple: true },
      'no-profile': { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      repetitions: { type: 'string' },
      hold: { type: 'string' },
      bar: { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  // --check is the overhead scenario's mode: it may name no scenario, or only that one.
  const scenario = values.scenario ?? (values.check ? 'overhead' : 'quick_validation');
  if (values.check && scenario !== 'overhead')
    throw new Error(`--check runs the overhead scenario only; got --scenario ${scenario}`);
  let scenarios: ScenarioName[];
  // `all` is the comparison suite; the soak runs for minutes and is asked for by name.
  if (scenario === 'all') scenarios = SCENARIOS.filter((name) => name !== 'soak');
  else if ((SCENARIOS as readonly string[]).includes(scenario)) scenarios = [scenario as ScenarioName];
  else
    throw new Error(
      `--scenario must be one of ${SCENARIOS.join(', ')}, all; got ${JSON.stringify(scenario)}`,
    );
  if (values.api !== 'completions' && values.api !== 'chat')
    throw new Error('--api must be completions or chat');
  const backstopEnv: Record<string, string> = {};
  for (const pair of values['backstop-env'] ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`--backstop-env takes KEY=VALUE, got ${JSON.stringify(pair)}`);
    backstopEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const bars: Partial<Record<BarName, number>> = {};
  for (const pair of values.bar ?? []) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq) as BarName;
    if (eq < 1 || !(name in FOOTPRINT_BARS))
      throw new Error(
        `--bar takes NAME=VALUE with NAME one of ${BAR_NAMES.join(', ')}; got ${JSON.stringify(pair)}`,
      );
    bars[name] = numberOption('bar', pair.slice(eq + 1), { min: 0 });
  }
  const defaults = defaultOptions();
  const models = (values.models ?? defaults.models.join(','))
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  if (models.length === 0) throw new Error('--models needs at least one model');
  return {
    scenarios,
    gateway: url('gateway', values.gateway),
    backstop: url('backstop', values.backstop),
    models,
    // Counts are whole numbers: `--requests 2.5` used to send 3 requests over 2 workers.
    requests: int('requests', values.requests, 1),
    rate: num('rate', values.rate, 0.1),
    durationS: num('duration', values.duration, 0.1),
    minutes: num('minutes', values.minutes, 0.1),
    concurrency: int('concurrency', values.concurrency, 1),
    seed: int('seed', values.seed, 0) ?? defaults.seed,
    out: values.out,
    timeScale: num('time-scale', values['time-scale'], 0) ?? defaults.timeScale,
    loopSleepMs: num('loop-sleep-ms', values['loop-sleep-ms'], 0) ?? defaults.loopSleepMs,
    streams: int('streams', values.streams, 1) ?? defaults.streams,
    maxTokens: int('max-tokens', values['max-tokens'], 1),
    api: values.api,
    timeoutMs: num('timeout-ms', values['timeout-ms'], 1) ?? defaults.timeoutMs,
    profile: !values['no-profile'],
    backstopEnv,
    check: values.check,
    repetitions: int('repetitions', values.repetitions, 1),
    holdS: num('hold', values.hold, 0.1),
    bars,
  };
}
