/**
 * The measurement behind RETRY_BUDGET_RATIO's default (docs/resilience.md, Retry budget): backstop with
 * several budgets, each in front of its own simulator with the same seed and default flapping, under
 * the benchmark's closed-loop load. Prints one row per budget: successes, retries per request, and
 * how many requests the budget cut short (and the breaker refused: five budget-cut requests in a
 * row open it). Not part of `npm test` (the test runs one point of it):
 *
 *   node test/support/budget-sweep.ts [--time-scale 0.01] [--requests 200] [--concurrency 10]
 *        [--seeds 1,2,3] [--ratios 0.2,0.5,1,1.5,2,1000] [--min 0,10]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MODELS, startSimulator } from '../../src/simulator/index.ts';
import { startBackstop } from './backstop-process.ts';
import { closedLoad } from './flapping-load.ts';
import { percentile } from './proxy-client.ts';

const { values } = parseArgs({
  options: {
    'time-scale': { type: 'string', default: '0.01' },
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '10' },
    seeds: { type: 'string', default: '1,2,3' },
    ratios: { type: 'string', default: '0.2,0.5,1,1.5,2,1000' },
    min: { type: 'string', default: '0,10' },
  },
});
const list = (text: string) => text.split(',').map(Number);
const models = DEFAULT_MODELS.map((m) => m.name);
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const timeScale = Number(values['time-scale']);

interface Row {
  ratio: number;
  min: number;
  seed: number;
  successes: number;
  retriesPerRequest: number;
  refused: number;
  breakerRefused: number;
  p95: number;
  reqPerSec: number;
}

async function point(ratio: number, min: number, seed: number): Promise<Row> {
  const sim = await startSimulator({ seed, timeScale });
  const backstop = await startBackstop({
    UPSTREAM_URL: sim.url,
    RETRY_BUDGET_RATIO: String(ratio),
    RETRY_BUDGET_MIN_PER_SEC: String(min),
    LOG_LEVEL: 'warn',
  });
  try {
    const run = await closedLoad(backstop.url, models, requests, concurrency);
    return {
      ratio,
      min,
      seed,
      successes: run.successes,
      retriesPerRequest: run.retries / requests,
      refused: run.budgetRefused,
      breakerRefused: run.answers.filter((a) => a.code === 'circuit_open').length,
      p95: percentile(
        run.answers.map((a) => a.ms),
        95,
      ),
      reqPerSec: (requests / run.ms) * 1000,
    };
  } finally {
    await backstop.stop();
    await sim.close();
  }
}

const rows: Row[] = [];
for (const seed of list(values.seeds)) {
  for (const min of list(values.min)) {
    // The points of one seed and reserve run side by side: each has its own simulator.
    rows.push(...(await Promise.all(list(values.ratios).map((ratio) => point(ratio, min, seed)))));
  }
}
process.stdout.write(
  `time scale ${timeScale}, ${requests} requests, ${concurrency} in flight, models alternating\n` +
    '| ratio | min/s | seed | success | retries/request | cut short by the budget | refused by the breaker | p95 ms | req/s |\n' +
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n',
);
for (const r of rows) {
  process.stdout.write(
    `| ${r.ratio} | ${r.min} | ${r.seed} | ${r.successes}/${requests} | ${r.retriesPerRequest.toFixed(2)} | ${r.refused} | ${r.breakerRefused} | ${r.p95.toFixed(0)} | ${r.reqPerSec.toFixed(1)} |\n`,
  );
}
