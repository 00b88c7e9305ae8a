import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MODELS, type Simulator, startSimulator } from '../src/simulator/index.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { type Answer, chat, fmt, inflight, percentile, scrape, sum, until } from './support/proxy-client.ts';
import { gate, json, notFound, ScriptedUpstream, status } from './support/scripted-upstream.ts';

const PHI = (DEFAULT_MODELS[0] as { name: string }).name;
const GEMMA = (DEFAULT_MODELS[1] as { name: string }).name;

type Log = Record<string, unknown>;
/** A log line's time in epoch ms (pino writes ISO timestamps). */
const timeOf = (line: Log | undefined): number => Date.parse(String(line?.time));
const transitions = (backstop: BackstopProcess, model: string, state: string): Log[] =>
  backstop.logs.filter(
    (l) => l.msg === 'circuit breaker state changed' && l.model === model && l.state === state,
  );

async function breakerState(backstop: BackstopProcess, model: string): Promise<number> {
  const samples = (await scrape(backstop.adminUrl)).filter(
    (s) => s.name === 'backstop_circuit_state' && s.labels.model === model,
  );
  return samples[0]?.value ?? Number.NaN;
}

/** Waits until `epochMs` (a pino `time` of the child process: the same wall clock). */
const sleepUntil = (epochMs: number) => {
  assert.ok(Number.isFinite(epochMs), 'a time read from the log');
  return sleep(Math.max(0, epochMs - Date.now()));
};

describe('breaker semantics (scripted gateway)', () => {
  const COOLDOWN = 500;
  const MAX_COOLDOWN = 4000;
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    backstop = await startBackstop({
      UPSTREAM_URL: upstream.url,
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_COOLDOWN_MS: String(COOLDOWN),
      BREAKER_MAX_COOLDOWN_MS: String(MAX_COOLDOWN),
      RETRY_MAX_ATTEMPTS: '2',
      // A request that uses up every misroute retry counts against the breaker (its model's pod
      // is most likely gone); two keep these requests short.
      RETRY_MAX_MISROUTES: '2',
      RETRY_BASE_DELAY_MS: '1',
      RETRY_MAX_DELAY_MS: '5',
      RETRY_BUDGET_MIN_PER_SEC: '1000',
    });
  });

  after(async () => {
    assert.equal(await inflight(backstop.adminUrl), 0, 'no request left counted in flight');
    const code = await backstop.stop();
    await upstream.close();
    // After the cleanup: a failed assertion must not leave a server open and the file running.
    assert.equal(code, 0);
  });

  /** Sends `n` requests for `model` one after another. */
  async function sequential(model: string, n: number): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (let i = 0; i < n; i++) answers.push(await chat(backstop.url, model));
    return answers;
  }

  /** Opens the breaker of `model` with THRESHOLD failed requests; returns the pino time it opened. */
  async function open(model: string): Promise<number> {
    const before = transitions(backstop, model, 'open').length;
    upstream.script(model, notFound());
    const answers = await sequential(model, 3);
    assert.deepEqual(
      answers.map((a) => a.code),
      ['retries_exhausted', 'retries_exhausted', 'retries_exhausted'],
    );
    await until(() => transitions(backstop, model, 'open').length > before, 'the open transition log');
    return timeOf(transitions(backstop, model, 'open').at(-1));
  }

  test('the threshold counts failed requests, not failed attempts: wrong-model attempts that a retry fixed never count', async () => {
    const model = 'b-count';
    // Three requests, each with a 200 from the wrong model first (EPP flapping), then the right one.
    upstream.script(model, json('intruder'), json(), json('intruder'), json(), json('intruder'), json());
    const fixed = await sequential(model, 3);
    assert.deepEqual(
      fixed.map((a) => a.status),
      [200, 200, 200],
    );
    assert.equal(upstream.count(model), 6);
    assert.equal(await breakerState(backstop, model), 0, 'three wrong-model attempts did not open it');

    // Three requests whose retries are all exhausted (six routing misses) do.
    await open(model);
    assert.equal(await breakerState(backstop, model), 2);
    const countWhenOpened = upstream.count(model);
    const refused = await chat(backstop.url, model);
    assert.equal(refused.status, 503);
    assert.equal(refused.code, 'circuit_open');
    assert.equal(upstream.count(model), countWhenOpened, 'an open breaker does not touch the upstream');
  });

  test('only consecutive failures count: a success in between starts the count again', async () => {
    const model = 'b-consecutive';
    const miss = notFound();
    // Attempts: fail, fail | fail, fail | ok | fail, fail | fail, fail  (2 attempts per request).
    upstream.script(model, miss, miss, miss, miss, json(), miss, miss, miss, miss, miss);
    const answers = await sequential(model, 5);
    assert.deepEqual(
      answers.map((a) => a.status),
      [502, 502, 200, 502, 502],
    );
    assert.equal(await breakerState(backstop, model), 0);
    assert.equal((await chat(backstop.url, model)).status, 502, 'the third failure in a row...');
    assert.equal(await breakerState(backstop, model), 2, '...opens it');
  });

  test('client errors never count: 400, 422 and a 404 that does not name the model pass through', async () => {
    const model = 'b-client';
    const miss = notFound();
    upstream.script(model, miss, miss, miss, miss); // two failed requests: one short of opening
    await sequential(model, 2);
    const body400 =
      '{"error":{"message":"bad temperature","type":"BadRequestError","param":null,"code":400}}';
    upstream.script(
      model,
      status(400, body400),
      status(422, '{"detail":"bad"}'),
      status(404, '{"detail":"Not Found"}'),
      status(400, body400),
      status(400, body400),
    );
    const answers = await sequential(model, 5);
    assert.deepEqual(
      answers.map((a) => a.status),
      [400, 422, 404, 400, 400],
    );
    assert.equal(upstream.count(model), 5, 'each went upstream once, no retry');
    assert.equal(
      await breakerState(backstop, model),
      0,
      'five client errors after two failures: still closed',
    );
  });

  test('open: 503 circuit_open with Retry-After at once; half-open lets exactly one probe through; its success closes', async () => {
    const model = 'b-probe';
    const openedAt = await open(model);
    const upstreamBefore = upstream.count(model);
    const fastFails = await Promise.all(Array.from({ length: 5 }, () => chat(backstop.url, model)));
    for (const a of fastFails) {
      assert.equal(a.status, 503);
      assert.equal(a.code, 'circuit_open');
      assert.equal(a.headers.get('retry-after'), '1', 'cooldown 500 ms rounds up to 1 s');
      assert.equal(a.headers.get('x-backstop-attempts'), '0');
      assert.match(a.text, /"type":"upstream_error"/);
    }
    assert.equal(upstream.count(model), upstreamBefore);

    await sleepUntil(openedAt + COOLDOWN + 20); // the cooldown is a duration: nothing to await but time
    const probeGate = gate();
    upstream.script(model, probeGate.step, json());
    const probe = chat(backstop.url, model);
    await probeGate.arrived;
    assert.equal(await breakerState(backstop, model), 1, 'half-open while the probe is out');
    const others = await Promise.all(Array.from({ length: 5 }, () => chat(backstop.url, model)));
    for (const a of others) {
      assert.equal(a.code, 'circuit_open', 'others fail fast while the probe is out');
      assert.ok(a.headers.get('retry-after'));
    }
    assert.equal(upstream.count(model), 1, 'exactly one request went upstream: the probe');
    probeGate.release(json());
    assert.equal((await probe).status, 200);
    assert.equal(await breakerState(backstop, model), 0, 'the probe succeeded: closed');
    assert.equal((await chat(backstop.url, model)).status, 200);
    assert.equal(upstream.count(model), 2);
  });

  test('a failed probe reopens it with a longer cooldown (doubled, with up to 20% jitter)', async () => {
    const model = 'b-reopen';
    const firstOpen = await open(model);
    await sleepUntil(firstOpen + COOLDOWN + 20);
    const probe = await chat(backstop.url, model); // still scripted notFound: the probe fails
    assert.equal(probe.code, 'retries_exhausted');
    await until(() => transitions(backstop, model, 'open').length === 2, 'the reopen');
    const reopened = timeOf(transitions(backstop, model, 'open')[1]);
    const count = upstream.count(model);

    // The second cooldown is 800-1000 ms (doubled, less up to 20% jitter): just past the longest
    // first cooldown (500 ms) the breaker still refuses. Asked as early as that allows, so the
    // request has 280 ms to arrive before the shortest second cooldown could end.
    await sleepUntil(reopened + COOLDOWN + 20);
    const sentAfter = Date.now() - reopened;
    const early = await chat(backstop.url, model);
    assert.equal(
      early.code,
      'circuit_open',
      `the cooldown grew beyond the base (asked ${sentAfter} ms after the reopen; 800 ms at least is the point)`,
    );
    assert.equal(upstream.count(model), count);

    await sleepUntil(reopened + 2 * COOLDOWN + 20); // past the longest second cooldown
    upstream.script(model, json());
    assert.equal((await chat(backstop.url, model)).status, 200, 'a probe is let through after it');
    assert.equal(await breakerState(backstop, model), 0);
  });
});

describe('full outage of one model behind the flapping simulator', () => {
  const COOLDOWN = 500;
  const MAX_COOLDOWN = 2000;
  const REQUESTS = 100;
  const SPACING_MS = 25;
  let sim: Simulator;
  let guarded: BackstopProcess; // breaker + budget (the defaults, with short cooldowns)
  let budgetOnly: BackstopProcess; // budget, breaker effectively off
  let naive: BackstopProcess; // neither: plain retrying
  const fastRetry = { RETRY_BASE_DELAY_MS: '5', RETRY_MAX_DELAY_MS: '40' };
  const report: string[] = [];

  before(async () => {
    // The discovery picker, so that Gemma's routing does not depend on Phi-3's load; Gemma visible
    // 75%, Phi-3 50%. The outage is the gateway's answer when a model's backend is down and it
    // knows it: Envoy's 503 "no healthy upstream" for every Phi-3 request (an unavailability,
    // which counts against the breaker). A dead pod inside a mixed pool looks like routing misses
    // instead (the other pod's 404), which count only once RETRY_MAX_MISROUTES is used up.
    sim = await startSimulator({
      seed: 42,
      timeScale: 0.01,
      faults: { picker: 'discovery', visibility: { [GEMMA]: 0.75, [PHI]: 0.5 } },
    });
    [guarded, budgetOnly, naive] = await Promise.all([
      startBackstop({
        UPSTREAM_URL: sim.url,
        BREAKER_COOLDOWN_MS: String(COOLDOWN),
        BREAKER_MAX_COOLDOWN_MS: String(MAX_COOLDOWN),
        ...fastRetry,
      }),
      startBackstop({ UPSTREAM_URL: sim.url, BREAKER_FAILURE_THRESHOLD: '1000000', ...fastRetry }),
      startBackstop({
        UPSTREAM_URL: sim.url,
        BREAKER_FAILURE_THRESHOLD: '1000000',
        RETRY_BUDGET_RATIO: '1000',
        ...fastRetry,
      }),
    ]);
  });

  after(async () => {
    const left: number[] = [];
    const codes: Array<number | null> = [];
    for (const b of [guarded, budgetOnly, naive]) {
      left.push(await inflight(b.adminUrl));
      codes.push(await b.stop());
    }
    await sim.close();
    process.stdout.write(`# outage figures\n${report.map((l) => `#   ${l}`).join('\n')}\n`);
    // After the cleanup: a failed assertion must not leave a server open and the file running.
    assert.deepEqual(left, [0, 0, 0], 'no request left counted in flight');
    assert.deepEqual(codes, [0, 0, 0]);
  });

  /** `REQUESTS` requests for `model`, one every SPACING_MS (an open loop, like independent clients). */
  async function openLoop(backstop: BackstopProcess, model: string): Promise<Answer[]> {
    const pending: Promise<Answer>[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      pending.push(chat(backstop.url, model));
      await sleep(SPACING_MS); // an open loop: the arrival rate is the scenario
    }
    return Promise.all(pending);
  }

  /** Two clients asking for `model` back to back until `stop()` is called. */
  function closedLoop(backstop: BackstopProcess, model: string) {
    let running = true;
    const answers: Answer[] = [];
    const worker = async () => {
      while (running) answers.push(await chat(backstop.url, model));
    };
    const done = Promise.all([worker(), worker()]);
    return {
      answers,
      stop: async () => {
        running = false;
        await done;
        return answers;
      },
    };
  }

  test('once open, requests fail fast with circuit_open; the upstream sees < 2 requests per client request; the other model is unaffected', async () => {
    // Baseline for Gemma: the same two clients while Phi-3 is healthy and idle.
    const baselineLoop = closedLoop(guarded, GEMMA);
    await until(() => baselineLoop.answers.length >= 60, '60 baseline Gemma answers', 20_000);
    const baseline = await baselineLoop.stop();

    sim.setFaults({ noHealthyUpstream: { [PHI]: 1 } });
    sim.resetStats();
    const gemmaLoop = closedLoop(guarded, GEMMA);
    const phi = await openLoop(guarded, PHI);
    const during = await gemmaLoop.stop();
    const upstreamPhi = sim.stats().byModel[PHI]?.received ?? 0;

    assert.ok(
      phi.every((a) => a.status !== 200),
      'nothing succeeds for a model that is down',
    );
    const fastFails = phi.filter((a) => a.code === 'circuit_open');
    const wentUpstream = phi.filter((a) => a.code !== 'circuit_open');
    assert.ok(
      wentUpstream.every((a) => a.code === 'retries_exhausted'),
      JSON.stringify(wentUpstream.map((a) => a.code)),
    );
    assert.ok(fastFails.length >= 80, `${fastFails.length} of ${REQUESTS} failed fast`);
    for (const a of fastFails) {
      assert.equal(a.status, 503);
      assert.match(a.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    }
    const fastMs = fastFails.map((a) => a.ms);
    const slowMs = wentUpstream.map((a) => a.ms);
    // Relative to a request that went upstream in the same run, so the machine's load moves both
    // sides: the median refusal is 5x faster, and even the 90th percentile one is 2x faster (a
    // refusal that waits for something, a backoff or a lock, shows in the tail first).
    assert.ok(
      percentile(fastMs, 90) * 2 < percentile(slowMs, 50),
      `fast-fail p90 ${fmt(percentile(fastMs, 90))} ms vs ${fmt(percentile(slowMs, 50))} ms for a request that went upstream`,
    );
    assert.ok(
      percentile(fastMs, 50) * 5 < percentile(slowMs, 50),
      `fast-fail median ${fmt(percentile(fastMs, 50))} ms vs ${fmt(percentile(slowMs, 50))} ms for a request that went upstream`,
    );
    const perRequest = upstreamPhi / REQUESTS;
    assert.ok(perRequest < 2, `${upstreamPhi} upstream requests for ${REQUESTS} client requests`);

    assert.ok(
      during.every((a) => a.status === 200),
      `every Gemma request succeeded during the outage: ${JSON.stringify(during.filter((a) => a.status !== 200).map((a) => [a.code, a.headers.get('x-backstop-attempts'), a.text.slice(0, 300)]))}`,
    );
    const [b50, b90, d50, d90] = [
      percentile(
        baseline.map((a) => a.ms),
        50,
      ),
      percentile(
        baseline.map((a) => a.ms),
        90,
      ),
      percentile(
        during.map((a) => a.ms),
        50,
      ),
      percentile(
        during.map((a) => a.ms),
        90,
      ),
    ];
    // Gemma's own latency is flapping retries (geometric attempts): compare with a wide margin.
    assert.ok(d50 <= 2 * b50 + 20, `Gemma p50 ${fmt(d50)} ms during vs ${fmt(b50)} ms before`);
    assert.ok(d90 <= 2 * b90 + 40, `Gemma p90 ${fmt(d90)} ms during vs ${fmt(b90)} ms before`);

    report.push(
      `breaker+budget: ${upstreamPhi} upstream requests for ${REQUESTS} (${perRequest.toFixed(2)} per request); ` +
        `${wentUpstream.length} went upstream (${transitions(guarded, PHI, 'half-open').length} half-open probes), ${fastFails.length} failed fast`,
      `fast-fail latency (client side): p50 ${fmt(percentile(fastMs, 50))} ms, p99 ${fmt(percentile(fastMs, 99))} ms, max ${fmt(Math.max(...fastMs))} ms; ` +
        `a request that went upstream: p50 ${fmt(percentile(slowMs, 50))} ms`,
      `Gemma (${baseline.length} before, ${during.length} during, all 200): p50 ${fmt(b50)} -> ${fmt(d50)} ms, p90 ${fmt(b90)} -> ${fmt(d90)} ms`,
    );
  });

  test('after the outage ends, one half-open probe closes the breaker within cooldown + 1 s', async () => {
    assert.equal(await breakerState(guarded, PHI), 2, 'still open when the outage ends');
    const lastOpen = timeOf(transitions(guarded, PHI, 'open').at(-1));
    const closedBefore = transitions(guarded, PHI, 'closed').length;
    // The backend is back and the EPP sees it (flapping off: the probe needs one attempt).
    sim.setFaults({ noHealthyUpstream: 0, flapping: false });
    sim.resetStats();
    const ended = Date.now();
    const answers: Answer[] = [];
    let recovered = false;
    const pending: Promise<void>[] = [];
    while (!recovered) {
      pending.push(
        chat(guarded.url, PHI).then((a) => {
          answers.push(a);
          if (a.status === 200) recovered = true;
        }),
      );
      await sleep(SPACING_MS); // clients keep asking at a steady pace: time is the point (the cooldown)
      assert.ok(Date.now() - ended < MAX_COOLDOWN + 3000, 'recovered in time');
    }
    await Promise.all(pending);
    // Log lines reach us up to 200 ms late (buffered stdout).
    await until(() => transitions(guarded, PHI, 'closed').length > closedBefore, 'the closed transition log');
    const halfOpen = timeOf(transitions(guarded, PHI, 'half-open').at(-1));
    const closed = timeOf(transitions(guarded, PHI, 'closed').at(-1));
    assert.ok(closed >= halfOpen);
    assert.equal(
      sim.stats().byModel[PHI]?.received,
      1,
      'exactly one request reached the upstream: the probe',
    );
    const firstOk = answers.findIndex((a) => a.status === 200);
    assert.ok(
      answers.slice(0, firstOk).every((a) => a.code === 'circuit_open'),
      'before the probe succeeded, the others failed fast',
    );
    // The cooldown in force has grown with the failed probes, up to MAX_COOLDOWN (then the next
    // request, SPACING_MS later, half-opens it). 1.5x the cap: above any scheduling delay, below
    // the 2x of a cooldown that doubled past the cap.
    assert.ok(
      halfOpen - lastOpen < 1.5 * MAX_COOLDOWN,
      `half-open ${halfOpen - lastOpen} ms after opening (cap ${MAX_COOLDOWN} ms)`,
    );
    assert.ok(closed - halfOpen < 1000, `probe took ${closed - halfOpen} ms`);
    assert.equal(await breakerState(guarded, PHI), 0);
    report.push(
      `recovery: half-open ${halfOpen - lastOpen} ms after the last open (cooldown cap ${MAX_COOLDOWN} ms), ` +
        `closed ${closed - halfOpen} ms later by one probe; ${Date.now() - ended} ms from outage end to the first 200`,
    );
  });

  test('for comparison: naive retrying costs 10 upstream requests per client request, the budget alone about 4', async () => {
    sim.setFaults({ noHealthyUpstream: { [PHI]: 1 }, flapping: true });
    for (const [name, backstop] of [
      ['budget only', budgetOnly],
      ['naive', naive],
    ] as const) {
      sim.resetStats();
      const answers = await openLoop(backstop, PHI);
      const upstreamPhi = sim.stats().byModel[PHI]?.received ?? 0;
      assert.ok(answers.every((a) => a.status === 502));
      const exhausted = sum(await scrape(backstop.adminUrl), 'backstop_retry_budget_exhausted_total', {
        model: PHI,
      });
      report.push(
        `${name}: ${upstreamPhi} upstream requests for ${REQUESTS} (${(upstreamPhi / REQUESTS).toFixed(2)} per request), ` +
          `budget refusals ${exhausted}, client p50 ${fmt(
            percentile(
              answers.map((a) => a.ms),
              50,
            ),
          )} ms`,
      );
      if (name === 'naive') assert.equal(upstreamPhi, REQUESTS * 10);
      else assert.ok(upstreamPhi / REQUESTS < 5 && exhausted > 0);
    }
    sim.setFaults({ noHealthyUpstream: 0 });
  });
});
