/**
 * `npm run demo`: the README's quick start. Starts the embedded Pattern 2 gateway simulator and a
 * backstop in front of it, sends the report's test (50 completions, 25 per model, max_tokens 15)
 * straight to the gateway and then through backstop, and prints per model the success rate,
 * attempts and latency of both paths. The processes, the requests and the clients are the bench's
 * (its quick validation, bench/scenarios/quick-validation.ts). Run with --help for the options.
 */
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { createContext } from '../bench/context.ts';
import { defaultOptions, numberOption } from '../bench/options.ts';
import { QUICK_VALIDATION, quickWorkload } from '../bench/scenarios/quick-validation.ts';
import type { BackstopTarget } from '../bench/scenarios/types.ts';
import { DEFAULT_MODELS } from '../src/simulator/index.ts';
import { closing, modelTable, progress } from './demo-report.ts';
import { type DemoPath, type PathStats, pathStats, runDemoPaths } from './demo-run.ts';

const HELP = `Usage: npm run demo -- [options]

Starts the simulated llm-d Pattern 2 gateway (two models in one pool, a picker blind to the model) and
backstop in front of it, sends the same requests straight to the gateway and through backstop,
and prints success, attempts and latency per model.

  --requests N      requests per path, alternating the two models (default 50)
  --concurrency N   requests in flight per path (default 10; the report sent one at a time,
                    which at ~2 s per answer would take minutes)
  --time-scale X    simulator speed: 1 = T4 timing (default), 0.01 = 100x faster
  --seed N          simulator seed (default 42)
  --json            print one JSON summary line on stdout instead of the tables
  --keep            keep the simulator and backstop running afterwards, print their URLs
                    (curl the metrics), stop with Ctrl-C
  --help            this text
`;

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n\n${HELP}`);
  process.exit(2);
}

/** The bench's number rule (`numberOption`), with the demo's defaults; a bad value exits 2. */
function number(
  name: string,
  raw: string | undefined,
  fallback: number,
  integer: boolean,
  min: number,
): number {
  try {
    return numberOption(name, raw, { min, integer }) ?? fallback;
  } catch (error) {
    return fail((error as Error).message);
  }
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      'time-scale': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
}
try {
  parsed = parse();
} catch (error) {
  fail((error as Error).message);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const defaults = defaultOptions();
const requests = number('requests', values.requests, QUICK_VALIDATION.requests, true, 1);
const concurrency = number('concurrency', values.concurrency, QUICK_VALIDATION.concurrency, true, 1);
const timeScale = number('time-scale', values['time-scale'], defaults.timeScale, false, 0);
const seed = number('seed', values.seed, defaults.seed, true, 0);
const json = values.json;
const models = DEFAULT_MODELS.map((m) => m.name);
const say = (text: string) => {
  if (!json) process.stdout.write(text);
};
const opts = { ...defaults, models, requests, concurrency, seed, timeScale };
const maxTokens = quickWorkload(opts).maxTokens;

const t0 = performance.now();
// The bench's context: its HTTP client, and the simulator and backstop it starts and stops.
const ctx = createContext(opts, tmpdir(), json ? () => ({ done() {}, end() {} }) : progress);
let backstopStarted: BackstopTarget | undefined;
let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await ctx.cleanup();
    backstopStarted = undefined;
  }
  process.exit(code);
}
// `npm run demo | head`: a closed stdout ends the demo quietly, backstop included.
process.stdout.on('error', () => void stopAll(0));
// Any other way out (an uncaught error, EPIPE on a closed stdout) must not leave backstop behind.
process.on('exit', () => {
  if (backstopStarted?.pid) process.kill(backstopStarted.pid, 'SIGKILL');
});
// Ctrl-C during the run still stops the backstop child and the simulator; after --keep it is how
// the demo is meant to end, so that exit is a clean 0.
let keeping = false;
process.once('SIGINT', () => void stopAll(keeping ? 0 : 130));
process.once('SIGTERM', () => void stopAll(keeping ? 0 : 143));

const sim = await ctx.gateway({ seed, timeScale }).catch(async (error: Error) => {
  process.stderr.write(`demo: the simulator did not start: ${error.message}\n`);
  return stopAll(1);
});
const backstop = await ctx.backstop(sim.url).catch(async (error: Error) => {
  process.stderr.write(`demo: backstop did not start: ${error.message}\n`);
  return stopAll(1);
});
backstopStarted = backstop;
const proxyUrl = backstop.url;

const perModel = Math.ceil(requests / models.length);
say(
  `backstop demo: ${requests} completions (${perModel} per model, max_tokens ${maxTokens}) sent straight to a simulated\n` +
    `llm-d Pattern 2 gateway, then ${requests} more through backstop.\n${concurrency} in flight per path; ` +
    `simulator seed ${seed}, ${timeScale === 1 ? 'T4 timing' : `time scale ${timeScale}`}.\n\n`,
);

const samples = await runDemoPaths(ctx, sim.url, proxyUrl, requests, concurrency);

const direct = samples.get('direct') ?? [];
const viaBackstop = samples.get('backstop') ?? [];
const byModel = models.map((model) => ({
  model,
  direct: pathStats(direct.filter((s) => s.model === model)),
  backstop: pathStats(viaBackstop.filter((s) => s.model === model)),
}));
const total: Record<DemoPath, PathStats> = { direct: pathStats(direct), backstop: pathStats(viaBackstop) };
const wallMs = performance.now() - t0;

if (json) {
  const summary = {
    requests,
    concurrency,
    seed,
    timeScale,
    maxTokens,
    wallMs: Math.round(wallMs),
    models: byModel,
    total,
    ...(values.keep ? { urls: { backstop: proxyUrl, admin: backstop.adminUrl, simulator: sim.url } } : {}),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} else {
  say('\n');
  for (const m of byModel) {
    say(
      `${modelTable(m.model, [
        ['direct', m.direct],
        ['backstop', m.backstop],
      ])}\n\n`,
    );
  }
  say(`${closing(total.direct, total.backstop)}\n`);
  say(`(${(wallMs / 1000).toFixed(1)} s in all)\n`);
}

if (!values.keep) await stopAll(0);
keeping = true;
say(
  `\nStill running; Ctrl-C stops both.\n` +
    `  backstop   ${proxyUrl}/v1/completions  (OpenAI-compatible)\n` +
    `  metrics    curl ${backstop.adminUrl}/metrics\n` +
    `  simulator  ${sim.url}  (curl ${sim.url}/sim/stats)\n`,
);
