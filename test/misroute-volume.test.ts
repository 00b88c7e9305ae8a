import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_MODELS, type Simulator, startSimulator } from '../src/simulator/index.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { closedLoad } from './support/flapping-load.ts';
import { inflight, scrape, sum } from './support/proxy-client.ts';

// Issue 9's volume check: at the default picker (least load, blind to the model) and the bench's
// default load (10 in flight, the models alternating), no request fails. npm test sends 2,000;
// the measured run for the issue sends 20,000: BACKSTOP_VOLUME=20000 node --test test/misroute-volume.test.ts
const REQUESTS = Number(process.env.BACKSTOP_VOLUME ?? 2000);
const models = DEFAULT_MODELS.map((m) => m.name);
let sim: Simulator;
let backstop: BackstopProcess;

before(async () => {
  sim = await startSimulator({ seed: 42, timeScale: 0.01 });
  backstop = await startBackstop({ UPSTREAM_URL: sim.url, LOG_LEVEL: 'warn' });
});

after(async () => {
  // Checked while it runs, and cleaned up whatever the check threw: a failed one must not leave
  // a server open and the file running.
  let code: number | null;
  try {
    assert.equal(await inflight(backstop.adminUrl), 0);
  } finally {
    code = await backstop.stop();
    await sim.close();
  }
  assert.equal(code, 0);
});

test(`${REQUESTS} requests at the default picker and load: none fails, every attempt accounted for`, async () => {
  const run = await closedLoad(backstop.url, models, REQUESTS, 10);
  const failures = run.answers.filter((a) => !a.success);
  assert.deepEqual(
    failures.map((a) => `${a.status} ${a.code} after ${a.attempts}`),
    [],
  );
  const attempts = run.answers.map((a) => a.attempts);
  const total = attempts.reduce((s, n) => s + n, 0);
  assert.equal(total, sim.stats().received, 'nothing lost, nothing duplicated');
  const metrics = await scrape(backstop.adminUrl);
  assert.equal(sum(metrics, 'backstop_retry_budget_exhausted_total'), 0);
  const byModel = models.map((m) => {
    const mine = run.answers.filter((a) => a.model === m).map((a) => a.attempts);
    return `${m.slice(m.indexOf('/') + 1)} mean ${(mine.reduce((s, n) => s + n, 0) / mine.length).toFixed(2)} max ${Math.max(...mine)}`;
  });
  process.stdout.write(
    `# volume: ${REQUESTS} requests in ${(run.ms / 1000).toFixed(1)} s, 0 failed; attempts ${byModel.join(', ')}; ` +
      `${(total / REQUESTS).toFixed(2)} upstream requests per client request\n`,
  );
});
