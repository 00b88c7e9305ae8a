import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { DEFAULT_MODELS, expectedContent, type Simulator, startSimulator } from '../src/simulator/index.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';

// The core acceptance: backstop in front of the Pattern 2 simulator with its default picker
// (least load, blind to the model: one pool mixing both models).
let sim: Simulator;
let backstop: BackstopProcess;
let openai: OpenAI;
const models = DEFAULT_MODELS.map((m) => m.name);

before(async () => {
  // Seeded, and 500x faster than a T4 so 200 requests take a second or two.
  sim = await startSimulator({ seed: 42, timeScale: 0.002 });
  backstop = await startBackstop({
    UPSTREAM_URL: sim.url,
    RETRY_BASE_DELAY_MS: '2',
    RETRY_MAX_DELAY_MS: '20',
  });
  openai = new OpenAI({ baseURL: `${backstop.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});

after(async () => {
  await backstop.stop();
  await sim.close();
});

interface Answer {
  model: string;
  content: string;
  expected: string;
  attempts: number;
}

async function jsonRequest(model: string, i: number): Promise<Answer> {
  const prompt = `Request ${i}`;
  const { data, response } = await openai.completions
    .create({ model, prompt, max_tokens: 15 })
    .withResponse();
  return {
    model: data.model,
    content: data.choices[0]?.text ?? '',
    expected: expectedContent(model, prompt, 15),
    attempts: Number(response.headers.get('x-backstop-attempts')),
  };
}

async function streamRequest(model: string, i: number): Promise<Answer> {
  const content = `Stream ${i}`;
  const { data, response } = await openai.chat.completions
    .create({ model, messages: [{ role: 'user', content }], max_tokens: 15, stream: true })
    .withResponse();
  let text = '';
  const seen = new Set<string>();
  for await (const part of data) {
    seen.add(part.model);
    text += part.choices[0]?.delta.content ?? '';
  }
  assert.equal(seen.size, 1, `one model per stream, saw ${[...seen].join(', ')}`);
  return {
    model: [...seen][0] ?? '',
    content: text,
    expected: expectedContent(model, content, 15),
    attempts: Number(response.headers.get('x-backstop-attempts')),
  };
}

test('200 requests, both models, JSON and SSE: all succeed with the right model and the exact content', async () => {
  sim.resetStats();
  const jobs: (() => Promise<Answer & { requested: string }>)[] = [];
  for (let i = 0; i < 200; i++) {
    const model = models[i % 2] as string;
    const send = i % 4 < 2 ? jsonRequest : streamRequest;
    jobs.push(async () => ({ requested: model, ...(await send(model, i)) }));
  }
  // Requests go one at a time: the simulator draws routing per request in arrival order, so a
  // fixed order keeps the run reproducible for the seed. Both pods are idle between requests, so
  // every pick is a coin flip; RETRY_MAX_MISROUTES (100) makes a failure a 2^-100 event.
  const answers: (Answer & { requested: string })[] = [];
  for (const job of jobs) answers.push(await job());

  for (const a of answers) {
    assert.equal(a.model, a.requested);
    assert.equal(a.content, a.expected);
    assert.ok(a.attempts >= 1 && a.attempts <= 100, `${a.attempts} attempts`);
  }
  const stats = sim.stats();
  const attempts = answers.reduce((sum, a) => sum + a.attempts, 0);
  assert.equal(attempts, stats.received, 'every attempt is accounted for: nothing lost, nothing duplicated');
  // The misroutes really happened: many requests needed more than one attempt. (The least-load
  // picker never answers 503 while both pods are ready; the discovery picker's 503s are
  // retried like any other unavailability, see test/proxy-attempts.test.ts.)
  const retried = answers.filter((a) => a.attempts > 1).length;
  assert.ok(retried > 60 && retried < 140, `${retried} of 200 retried`);
  assert.ok(stats.outcomes.misrouted_404 > 0);
});

test('wrong-model 200s from a misrouting gateway never reach the client', async () => {
  sim.setFaults({ misroute: 'wrong-model-200' });
  try {
    sim.resetStats();
    let attempts = 0;
    for (let i = 0; i < 40; i++) {
      const model = models[i % 2] as string;
      const answer = await (i % 4 < 2 ? jsonRequest : streamRequest)(model, i);
      assert.equal(answer.model, model);
      assert.equal(answer.content, answer.expected);
      attempts += answer.attempts;
    }
    const stats = sim.stats();
    assert.ok(stats.outcomes.wrong_model_200 > 0, 'the gateway did send wrong-model answers');
    assert.equal(attempts, stats.received);
  } finally {
    sim.setFaults({ misroute: '404-mixed' });
  }
});

test("vLLM's context-length 400 comes back to the client as it is, after one attempt", async () => {
  sim.setFaults({ flapping: false });
  try {
    const prompt = 'word '.repeat(3000);
    const error = await openai.completions
      .create({ model: models[0] as string, prompt, max_tokens: 15 })
      .then(
        () => assert.fail('expected a 400'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.match(error.message, /maximum context length is 2048 tokens/);
    assert.equal(error.headers?.get('x-backstop-attempts'), '1');
  } finally {
    sim.setFaults({ flapping: true });
  }
});

test('a client that goes away mid-stream: the simulator sees the connection close and stops generating', async () => {
  sim.setFaults({ flapping: false });
  try {
    sim.resetStats();
    const controller = new AbortController();
    // 500 tokens at the T4 pace (scaled): still generating when the client leaves.
    const stream = await openai.chat.completions.create(
      {
        model: models[0] as string,
        messages: [{ role: 'user', content: 'go on' }],
        max_tokens: 500,
        stream: true,
      },
      { signal: controller.signal },
    );
    let tokens = 0;
    try {
      for await (const _ of stream) {
        tokens += 1;
        if (tokens === 3) controller.abort();
      }
    } catch {
      // The SDK may end the iteration or throw its abort error.
    }
    const stats = await waitFor(() => {
      const s = sim.stats();
      return s.clientAborts === 1 ? s : undefined;
    });
    assert.equal(stats.streamsCompleted, 0);
    assert.equal(stats.inflight, 0);
  } finally {
    sim.setFaults({ flapping: true });
  }
});

/** Polls a condition that another process settles (the simulator's view of a closed socket). */
async function waitFor<T>(check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
