import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Agent, request } from 'undici';
import { type Simulator, type SimulatorOptions, startSimulator } from '../src/simulator/index.ts';
import { until } from './support/proxy-client.ts';

// The simulator's endpoint picker as the EPP decides: least load among the pool's ready pods,
// blind to `model`; vLLM pods with a sequence limit and a FIFO queue; the EPP's flow control;
// header routing (the fixed deployment); a stale view. Real sockets on 127.0.0.1.

const PHI = 'microsoft/Phi-3-mini-4k-instruct';
const GEMMA = 'google/gemma-2b-it';
const agent = new Agent({ connections: 64 });
after(() => agent.close());

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

async function send(sim: Simulator, model: string, headers: Record<string, string> = {}): Promise<Reply> {
  const started = performance.now();
  const res = await request(`${sim.url}/v1/completions`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, prompt: 'hi', max_tokens: 15 }),
  });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body, ms: performance.now() - started };
}

const servedBy = (reply: Reply): string | null =>
  reply.status === 200 ? (JSON.parse(reply.body) as { model: string }).model : null;

async function withSim(options: SimulatorOptions, body: (sim: Simulator) => Promise<void>): Promise<void> {
  const sim = await startSimulator(options);
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

test('a pod runs at most maxNumSeqs sequences; the rest wait in FIFO order and their latency includes the wait', () =>
  withSim(
    { timeScale: 1, faults: { flapping: false, maxNumSeqs: 2, latency: { ttftMs: 200, tpotMs: 0 } } },
    async (sim) => {
      const replies = await Promise.all([1, 2, 3, 4].map(() => send(sim, PHI)));
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200, 200],
      );
      const ms = replies.map((r) => r.ms).sort((a, b) => a - b);
      // Two generate at once (>= 200 ms); two start only when those end (>= 400 ms). Timers never
      // fire early, so these lower bounds hold on any machine.
      assert.ok((ms[0] ?? 0) >= 195 && (ms[2] ?? 0) >= 395, `latencies ${ms.map(Math.round)}`);
      const pod = sim.stats().pods[PHI];
      assert.equal(pod?.maxQueueDepth, 2, JSON.stringify(pod));
      assert.equal(pod?.picks, 4);
      assert.equal(pod?.running, 0);
      assert.equal(pod?.queueDepth, 0);
    },
  ));

test('flow control: a full queue gets the EPP 429, a wait past the TTL its 503, both text/plain with the dropped reason', () =>
  withSim(
    {
      timeScale: 1,
      faults: {
        flapping: false,
        maxNumSeqs: 1,
        flowControl: { maxQueue: 1, queueTtlMs: 100 },
        latency: { ttftMs: 1000, tpotMs: 0 },
      },
    },
    async (sim) => {
      const running = send(sim, PHI);
      // Let the first take the only slot before the next two arrive.
      await until(() => (sim.stats().pods[PHI]?.running ?? 0) >= 1, 'the first request running');
      const queued = send(sim, PHI);
      await until(() => (sim.stats().pods[PHI]?.queueDepth ?? 0) >= 1, 'the second request queued');
      const refused = await send(sim, PHI);
      assert.equal(refused.status, 429);
      assert.match(String(refused.headers['content-type']), /^text\/plain/);
      assert.equal(refused.headers['x-llm-d-request-dropped-reason'], 'rejected-saturated');
      assert.equal(
        refused.body,
        'inference error: ResourceExhausted - system saturated, sheddable request dropped',
      );
      const expired = await queued;
      assert.equal(expired.status, 503);
      assert.equal(expired.headers['x-llm-d-request-dropped-reason'], 'rejected-ttl-expired');
      assert.equal(expired.body, 'inference error: ServiceUnavailable - request timed out in queue');
      assert.ok(expired.ms >= 95 && expired.ms < 900, `evicted after ${Math.round(expired.ms)} ms`);
      assert.equal((await running).status, 200);
      const outcomes = sim.stats().outcomes;
      assert.equal(outcomes.queue_full_429, 1);
      assert.equal(outcomes.queue_ttl_503, 1);
    },
  ));

test('without flow control (the EPP default) a request waits in the queue as long as it takes', () =>
  withSim(
    { timeScale: 1, faults: { flapping: false, maxNumSeqs: 1, latency: { ttftMs: 150, tpotMs: 0 } } },
    async (sim) => {
      const replies = await Promise.all([1, 2, 3].map(() => send(sim, GEMMA)));
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200],
      );
      assert.ok(Math.max(...replies.map((r) => r.ms)) >= 445);
    },
  ));

test('under load the picker keeps sending a busy model to the idle other pod: misroutes are correlated', () =>
  withSim({ timeScale: 1, faults: { latency: { ttftMs: 1500, tpotMs: 0 } } }, async (sim) => {
    // Both pods idle: a tie, a coin flip. Send Phi-3 requests until one is generating on its pod
    // (the others get a quick 404 from Gemma's pod).
    const long: Promise<Reply>[] = [];
    const phiRunning = () => (sim.stats().pods[PHI]?.running ?? 0) >= 1;
    while (!phiRunning()) {
      let answered = false;
      const reply = send(sim, PHI);
      reply.then(
        () => {
          answered = true;
        },
        () => {
          answered = true;
        },
      );
      long.push(reply);
      // Either Gemma's pod sent its quick 404, or Phi-3's pod is generating this one.
      await until(() => answered || phiRunning(), 'the request answered or generating');
    }
    // Phi-3's pod has load 1, Gemma's 0: every further Phi-3 request is misrouted, none by chance.
    const misses: number[] = [];
    for (let i = 0; i < 20; i++) misses.push((await send(sim, PHI)).status);
    assert.deepEqual(new Set(misses), new Set([404]));
    assert.equal(sim.stats().pods[GEMMA]?.misroutes, 20 + long.length - 1);
    // A Gemma request lands on its own idle pod; the loads tie again and Phi-3 has its coin flip back.
    const gemma = send(sim, GEMMA);
    await until(() => (sim.stats().pods[GEMMA]?.running ?? 0) >= 1, 'the Gemma request generating');
    let own = 0;
    for (let i = 0; i < 40 && own === 0; i++) if ((await send(sim, PHI)).status !== 404) own++;
    assert.equal(own, 1, 'a tie lets Phi-3 reach its pod again');
    assert.equal(servedBy(await gemma), GEMMA);
    for (const reply of await Promise.all(long)) assert.ok(reply.status === 200 || reply.status === 404);
  }));

test("header routing on: X-Gateway-Model-Name picks that model's pod; off (the default): the header is ignored", async () => {
  await withSim({ timeScale: 0, faults: { headerRouting: true } }, async (sim) => {
    for (let i = 0; i < 50; i++) {
      assert.equal(servedBy(await send(sim, PHI, { 'x-gateway-model-name': PHI })), PHI);
      assert.equal(servedBy(await send(sim, GEMMA, { 'x-gateway-model-name': GEMMA })), GEMMA);
    }
    // The rule trusts the header, not the body: a wrong header routes to the other pod (404).
    assert.equal((await send(sim, PHI, { 'x-gateway-model-name': GEMMA })).status, 404);
    // No header, or one naming no pool: the one pool's picker, which misroutes.
    let misses = 0;
    for (let i = 0; i < 50; i++) if ((await send(sim, PHI)).status === 404) misses++;
    assert.ok(misses > 10 && misses < 40, `${misses}/50 misrouted without the header`);
  });
  await withSim({ timeScale: 0 }, async (sim) => {
    let misses = 0;
    for (let i = 0; i < 50; i++)
      if ((await send(sim, PHI, { 'x-gateway-model-name': PHI })).status === 404) misses++;
    assert.ok(misses > 10 && misses < 40, `${misses}/50 misrouted with header routing off`);
  });
});

test('a stale view hides one pod for forMs of every everyMs; the other model is unaffected', () =>
  withSim(
    {
      timeScale: 1,
      faults: {
        picker: 'discovery',
        visibility: { [PHI]: 1, [GEMMA]: 1 },
        staleView: { model: PHI, everyMs: 400, forMs: 200 },
        latency: { ttftMs: 0, tpotMs: 0 },
      },
    },
    async (sim) => {
      const seen = { hidden: 0, visible: 0 };
      const deadline = performance.now() + 1600;
      while (performance.now() < deadline) {
        // The simulator runs in this process, on this clock: the phase is known on both sides.
        const start = performance.now() % 400;
        const [phi, gemma] = [await send(sim, PHI), await send(sim, GEMMA)];
        const end = (performance.now() % 400) as number;
        assert.equal(servedBy(gemma), GEMMA, 'Gemma is always served');
        if (end < start) continue; // crossed a period boundary: phase unknown
        if (end < 200) {
          assert.equal(phi.status, 404, `hidden phase ${Math.round(start)}-${Math.round(end)}`);
          seen.hidden++;
        } else if (start >= 200) {
          assert.equal(servedBy(phi), PHI, `visible phase ${Math.round(start)}-${Math.round(end)}`);
          seen.visible++;
        }
      }
      assert.ok(seen.hidden > 3 && seen.visible > 3, JSON.stringify(seen));
    },
  ));
