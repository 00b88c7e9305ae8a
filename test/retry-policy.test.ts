import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MODELS, type Simulator, startSimulator } from '../src/simulator/index.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { type Answer, chat, inflight, scrape, sum } from './support/proxy-client.ts';
import { hang, json, notFound, ScriptedUpstream, type Step, status } from './support/scripted-upstream.ts';

// Issue 9's retry policy per signal, through real sockets: routing misses fast, then patient, on
// their own limit and budget and never against the breaker; a long Retry-After goes to the
// client; the deadline caps every attempt; a stale view of one pod is survived at the defaults.

const PHI = (DEFAULT_MODELS[0] as { name: string }).name;
const GEMMA = (DEFAULT_MODELS[1] as { name: string }).name;
const report: string[] = [];
after(() => process.stdout.write(`# retry policy figures\n${report.map((l) => `#   ${l}`).join('\n')}\n`));

describe('retry classes (scripted gateway)', () => {
  let upstream: ScriptedUpstream;
  /** The ordinary backoff is 30 s here: anything that used it would blow the test's bounds. */
  let slowBackoff: BackstopProcess;
  /** Small limits, so each class's limit is reached in a few attempts. */
  let limits: BackstopProcess;
  /** One retry per budget and window, a breaker that opens after two failed requests. */
  let guarded: BackstopProcess;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    [slowBackoff, limits, guarded] = await Promise.all([
      startBackstop({
        UPSTREAM_URL: upstream.url,
        RETRY_BASE_DELAY_MS: '30000',
        RETRY_MAX_DELAY_MS: '30000',
        RETRY_DEADLINE_MS: '60000',
      }),
      startBackstop({
        UPSTREAM_URL: upstream.url,
        RETRY_MAX_ATTEMPTS: '2',
        RETRY_MAX_MISROUTES: '3',
        RETRY_BASE_DELAY_MS: '1',
        RETRY_MAX_DELAY_MS: '5',
        BREAKER_FAILURE_THRESHOLD: '1000',
      }),
      startBackstop({
        UPSTREAM_URL: upstream.url,
        BREAKER_FAILURE_THRESHOLD: '2',
        RETRY_BUDGET_RATIO: '0',
        RETRY_MISROUTE_BUDGET_RATIO: '0',
        RETRY_BUDGET_MIN_PER_SEC: '0.1',
        RETRY_BASE_DELAY_MS: '1',
        RETRY_MAX_DELAY_MS: '5',
      }),
    ]);
  });

  after(async () => {
    const left: number[] = [];
    const codes: Array<number | null> = [];
    for (const b of [slowBackoff, limits, guarded]) {
      left.push(await inflight(b.adminUrl));
      codes.push(await b.stop());
    }
    await upstream.close();
    // After the cleanup: a failed assertion must not leave a server open and the file running.
    assert.deepEqual(left, [0, 0, 0], 'no request left counted in flight');
    assert.deepEqual(codes, [0, 0, 0]);
  });

  test('routing misses are retried at once: five misses, then the answer, with no backoff step between', async () => {
    upstream.script('p-fast', notFound(), notFound('flat'), notFound(), notFound(), notFound(), json());
    const answer = await chat(slowBackoff.url, 'p-fast');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-backstop-attempts'), '6');
    // One step of the ordinary backoff is random(0, 30 s): five of them would take minutes.
    assert.ok(answer.ms < 2000, `${answer.ms.toFixed(0)} ms`);
    report.push(`5 routing misses then an answer: ${answer.ms.toFixed(1)} ms in all (RETRY_FAST_DELAY_MS 5)`);
  });

  test('misses count against RETRY_MAX_MISROUTES, other failures against RETRY_MAX_ATTEMPTS, each on its own', async () => {
    // miss, 503, miss, answer: 2 misses (of 3) and 1 failure (of 2). Under one shared limit of 2
    // attempts this request would have failed.
    upstream.script('p-mixed', notFound(), status(503, 'busy'), notFound(), json());
    const mixed = await chat(limits.url, 'p-mixed');
    assert.equal(mixed.status, 200);
    assert.equal(mixed.headers.get('x-backstop-attempts'), '4');

    upstream.script('p-misses', notFound());
    const misses = await chat(limits.url, 'p-misses');
    assert.equal(misses.status, 502);
    assert.equal(misses.headers.get('x-backstop-attempts'), '3');
    assert.match(misses.text, /after 3 attempts \(last result: model_not_found\); RETRY_MAX_MISROUTES/);

    upstream.script('p-failures', status(503, 'busy'));
    const failures = await chat(limits.url, 'p-failures');
    assert.equal(failures.status, 502);
    assert.equal(failures.headers.get('x-backstop-attempts'), '2');
    assert.match(failures.text, /RETRY_MAX_ATTEMPTS reached/);
  });

  test('a spent budget after routing misses never opens the breaker; after overload it does', async () => {
    // Misses: the one misroute retry of the window, then the budget refuses. Five such requests.
    upstream.script('p-miss-budget', notFound());
    const missed: Answer[] = [];
    for (let i = 0; i < 5; i++) missed.push(await chat(guarded.url, 'p-miss-budget'));
    assert.deepEqual(
      missed.map((a) => a.code),
      Array(5).fill('retries_exhausted'),
    );
    assert.match(missed[1]?.text ?? '', /retry budget for this model is exhausted/);
    const before = upstream.count('p-miss-budget');
    await chat(guarded.url, 'p-miss-budget');
    assert.equal(upstream.count('p-miss-budget'), before + 1, 'still closed: the request went upstream');
    const metrics = await scrape(guarded.adminUrl);
    assert.equal(sum(metrics, 'backstop_circuit_state', { model: 'p-miss-budget' }), 0);

    // Overload: the same spent budget, but the last attempt says the upstream is failing.
    upstream.script('p-overload', status(503, 'busy'));
    await chat(guarded.url, 'p-overload');
    await chat(guarded.url, 'p-overload');
    const refused = await chat(guarded.url, 'p-overload');
    assert.equal(refused.code, 'circuit_open');
  });

  test('a persistent miss is waited out in a queue: only its head polls, and all get through once the pod is back', async () => {
    const queued = await startBackstop({
      UPSTREAM_URL: upstream.url,
      RETRY_FAST_MISROUTES: '0',
      RETRY_BASE_DELAY_MS: '20',
      RETRY_MISROUTE_MAX_DELAY_MS: '20',
    });
    try {
      let misrouting = true;
      const step: Step = (req, res, body) => (misrouting ? notFound() : json())(req, res, body);
      upstream.script('p-queue', step);
      const answers = Array.from({ length: 10 }, () => chat(queued.url, 'p-queue'));
      await sleep(500); // the gateway keeps misrouting for half a second: the wait being measured
      const polled = upstream.count('p-queue');
      misrouting = false;
      const released = performance.now();
      const done = await Promise.all(answers);
      const drainMs = performance.now() - released;
      assert.deepEqual(
        done.map((a) => a.status),
        Array(10).fill(200),
      );
      // Ten first attempts, then one poller at a time every 0-20 ms: about 35-60 in 500 ms. Ten
      // independent pollers on the same backoff would send 250-500.
      assert.ok(polled < 150, `${polled} upstream requests in 500 ms for 10 waiting requests`);
      assert.ok(drainMs < 2000, `the queue drained in ${drainMs.toFixed(0)} ms`);
      report.push(
        `10 requests waiting out a 500 ms misroute: ${polled} upstream requests meanwhile, all 10 answered ${drainMs.toFixed(0)} ms after the pod came back`,
      );
      assert.equal(await inflight(queued.adminUrl), 0);
    } finally {
      await queued.stop();
    }
  });

  test('a spent misroute budget slows the queue down instead of failing the requests in it', async () => {
    const dry = await startBackstop({
      UPSTREAM_URL: upstream.url,
      RETRY_FAST_MISROUTES: '0',
      RETRY_MISROUTE_BUDGET_RATIO: '0',
      RETRY_BUDGET_MIN_PER_SEC: '0.1', // one misroute retry per 10 s window
      RETRY_BASE_DELAY_MS: '5',
      RETRY_MISROUTE_MAX_DELAY_MS: '5',
      RETRY_MAX_DELAY_MS: '200',
    });
    try {
      let misrouting = true;
      const step: Step = (req, res, body) => (misrouting ? notFound() : json())(req, res, body);
      upstream.script('p-dry', step);
      const answers = Array.from({ length: 3 }, () => chat(dry.url, 'p-dry'));
      await sleep(700); // the gateway keeps misrouting for 700 ms: the window whose polls are counted
      const polled = upstream.count('p-dry');
      misrouting = false;
      const done = await Promise.all(answers);
      assert.deepEqual(
        done.map((a) => a.status),
        [200, 200, 200],
      );
      // 3 first attempts, the window's one budgeted retry, then one poll per RETRY_MAX_DELAY_MS.
      assert.ok(polled <= 12, `${polled} upstream requests in 700 ms`);
      const metrics = await scrape(dry.adminUrl);
      assert.ok(sum(metrics, 'backstop_retry_budget_exhausted_total', { model: 'p-dry' }) > 0);
      report.push(
        `misroute budget dry: 3 queued requests sent ${polled} upstream requests in 700 ms, then all answered`,
      );
    } finally {
      await dry.stop();
    }
  });

  test('a 429 whose Retry-After outlasts the deadline reaches the client unchanged, at once', async () => {
    const body = '{"error":{"message":"slow down","type":"RateLimitError","param":null,"code":429}}';
    upstream.script(
      'p-429',
      status(429, body, { 'retry-after': '60', 'x-ratelimit-remaining-requests': '0' }),
    );
    const answer = await chat(slowBackoff.url, 'p-429');
    assert.equal(answer.status, 429);
    assert.equal(answer.headers.get('retry-after'), '60');
    assert.equal(answer.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.equal(answer.text, body);
    assert.equal(answer.headers.get('x-backstop-attempts'), '1');
    assert.equal(upstream.count('p-429'), 1);
    assert.ok(answer.ms < 500, `${answer.ms.toFixed(1)} ms`);
    const id = answer.headers.get('x-request-id');
    const log = await slowBackoff.waitForLog((l) => l.msg === 'request' && l.reqId === id);
    assert.equal(log.outcome, 'rate_limited');
    report.push(
      `429 with Retry-After 60 s (RETRY_DEADLINE_MS 60 s, so less time left than asked): passed to the client in ${answer.ms.toFixed(1)} ms`,
    );
  });

  test('the deadline caps an attempt: a hung upstream is cut at RETRY_DEADLINE_MS, not ATTEMPT_TIMEOUT_MS', async () => {
    const capped = await startBackstop({
      UPSTREAM_URL: upstream.url,
      RETRY_DEADLINE_MS: '600',
      ATTEMPT_TIMEOUT_MS: '60000',
    });
    try {
      upstream.script('p-hang', notFound(), hang);
      const answer = await chat(capped.url, 'p-hang');
      assert.equal(answer.status, 504);
      assert.equal(answer.code, 'upstream_timeout');
      assert.ok(answer.ms >= 590 && answer.ms < 5000, `${answer.ms.toFixed(0)} ms`);
      const id = answer.headers.get('x-request-id');
      const log = await capped.waitForLog((l) => l.msg === 'request' && l.reqId === id);
      assert.deepEqual(log.results, ['model_not_found', 'timeout']);
      report.push(
        `hung attempt, RETRY_DEADLINE_MS 600, ATTEMPT_TIMEOUT_MS 60000: 504 after ${answer.ms.toFixed(0)} ms`,
      );
      assert.equal(await inflight(capped.adminUrl), 0);
    } finally {
      await capped.stop();
    }
  });
});

describe('a stale view: one model misrouted for 3 s of every 6 s, steady traffic, the defaults', () => {
  let sim: Simulator;
  let backstop: BackstopProcess;
  const SECONDS = 12;
  const SPACING_MS = 50; // one request per model every 50 ms: 20 req/s each

  before(async () => {
    sim = await startSimulator({
      seed: 42,
      timeScale: 1,
      faults: {
        // Both pods always in view, but for the stale window: only Phi-3 is ever misrouted.
        picker: 'discovery',
        visibility: { [PHI]: 1, [GEMMA]: 1 },
        staleView: { model: PHI, everyMs: 6000, forMs: 3000 },
        latency: { ttftMs: 50, tpotMs: 0 },
      },
    });
    backstop = await startBackstop({ UPSTREAM_URL: sim.url, LOG_LEVEL: 'warn' });
  });

  after(async () => {
    assert.equal(await inflight(backstop.adminUrl), 0);
    const code = await backstop.stop();
    await sim.close();
    // After the cleanup: a failed assertion must not leave a server open and the file running.
    assert.equal(code, 0);
  });

  test('every request succeeds, the other model never retries, and the breaker stays closed', async () => {
    const pending: { model: string; answer: Promise<Answer> }[] = [];
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      for (const model of [PHI, GEMMA]) pending.push({ model, answer: chat(backstop.url, model) });
      await sleep(SPACING_MS); // an open loop: the arrival rate is the scenario
    }
    const answers = await Promise.all(pending.map(async (p) => ({ model: p.model, ...(await p.answer) })));
    const attempts = (model: string) =>
      answers.filter((a) => a.model === model).map((a) => Number(a.headers.get('x-backstop-attempts')));
    for (const a of answers) {
      assert.equal(a.status, 200, `${a.model}: ${a.text.slice(0, 200)}`);
      assert.equal((JSON.parse(a.text) as { model: string }).model, a.model);
    }
    assert.deepEqual(new Set(attempts(GEMMA)), new Set([1]), 'Gemma is unaffected');
    const phi = attempts(PHI);
    const total = answers.length;
    const upstream = sim.stats().received;
    assert.equal(
      phi.reduce((s, n) => s + n, 0) + attempts(GEMMA).length,
      upstream,
      'every attempt accounted for',
    );
    const metrics = await scrape(backstop.adminUrl);
    assert.equal(sum(metrics, 'backstop_circuit_state', { model: PHI }), 0, 'the breaker never opened');
    assert.equal(sum(metrics, 'backstop_retry_budget_exhausted_total'), 0);
    const mean = phi.reduce((s, n) => s + n, 0) / phi.length;
    report.push(
      `stale view, ${total} requests over ${SECONDS} s: 100% succeeded; Phi-3 attempts mean ${mean.toFixed(2)} max ${Math.max(...phi)}, ` +
        `Gemma all 1; ${(upstream / total).toFixed(2)} upstream requests per client request`,
    );
  });
});
