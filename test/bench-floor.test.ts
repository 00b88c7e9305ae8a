import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { runLoad } from '../bench/load/autocannon-run.ts';
import { FIXED_JSON_BYTES, SSE_CHUNKS, startFixedUpstream } from '../bench/processes/fixed-upstream.ts';
import { startFloor } from '../bench/processes/floor.ts';
import type { ScriptHandle } from '../bench/processes/node-script.ts';
import { chunk, DONE, json, ScriptedUpstream, sse } from './support/scripted-upstream.ts';

// The overhead scenario's yardstick and its upstream (issue 13), each its own process, over real
// sockets: the fixed upstream answers as the comparison assumes, and the floor verifies `model`
// as it claims to (it would otherwise be a cheaper relay than the verifier it stands for).
const MODEL = 'microsoft/Phi-3-mini-4k-instruct';
const dispatcher = new Agent({ allowH2: false });

async function post(url: string, path: string, body: Record<string, unknown>) {
  const res = await request(`${url}${path}`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
}

/** The data events of an SSE body, in order. */
const events = (text: string) =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));

describe('bench: the fixed upstream and the floor', () => {
  let upstream: ScriptHandle;
  let floor: ScriptHandle;
  let scripted: ScriptedUpstream;
  let floorOnScripted: ScriptHandle;
  before(async () => {
    upstream = await startFixedUpstream();
    floor = await startFloor(upstream.url);
    scripted = await new ScriptedUpstream().listen();
    floorOnScripted = await startFloor(scripted.url);
  });
  after(async () => {
    await dispatcher.close();
    await floorOnScripted?.stop();
    await floor?.stop();
    await upstream?.stop();
    await scripted?.close();
  });

  for (const path of ['/v1/completions', '/v1/chat/completions']) {
    it(`${path}: the upstream answers ${FIXED_JSON_BYTES} B of JSON naming the model asked for, and the floor relays it as is`, async () => {
      const direct = await post(upstream.url, path, { model: MODEL, prompt: 'hi', max_tokens: 15 });
      assert.equal(direct.status, 200);
      assert.equal(Buffer.byteLength(direct.text), FIXED_JSON_BYTES);
      assert.equal((JSON.parse(direct.text) as { model: string }).model, MODEL);
      const other = await post(upstream.url, path, { model: 'google/gemma-2b-it' });
      assert.equal((JSON.parse(other.text) as { model: string }).model, 'google/gemma-2b-it');
      const relayed = await post(floor.url, path, { model: MODEL, prompt: 'hi', max_tokens: 15 });
      assert.deepEqual(relayed, direct);
    });

    it(`${path}: a stream is ${SSE_CHUNKS} events naming the model, then [DONE], through the floor too`, async () => {
      for (const base of [upstream.url, floor.url]) {
        const res = await post(base, path, { model: MODEL, stream: true });
        assert.equal(res.status, 200);
        assert.match(res.type, /^text\/event-stream/);
        const data = events(res.text);
        assert.equal(data.length, SSE_CHUNKS + 1, base);
        assert.equal(data.at(-1), '[DONE]');
        for (const event of data.slice(0, -1))
          assert.equal((JSON.parse(event) as { model: string }).model, MODEL);
      }
    });
  }

  it('the upstream spaces its chunks when asked (the held streams)', async () => {
    const slow = await startFixedUpstream({ chunkIntervalMs: 5 });
    try {
      const t0 = performance.now();
      const res = await post(slow.url, '/v1/completions', { model: MODEL, stream: true });
      assert.equal(events(res.text).length, SSE_CHUNKS + 1);
      // 39 gaps of at least 5 ms (timers never fire early).
      assert.ok(performance.now() - t0 >= (SSE_CHUNKS - 1) * 5, 'the chunks were spaced');
    } finally {
      await slow.stop();
    }
  });

  it('the floor verifies: a JSON answer from another model is a 502, the right one passes', async () => {
    scripted.script(MODEL, json('google/gemma-2b-it'), json());
    const wrong = await post(floorOnScripted.url, '/v1/chat/completions', { model: MODEL });
    assert.equal(wrong.status, 502);
    const right = await post(floorOnScripted.url, '/v1/chat/completions', { model: MODEL });
    assert.equal(right.status, 200);
    assert.equal((JSON.parse(right.text) as { model: string }).model, MODEL);
  });

  it('the floor outlives clients that leave mid-stream (an SSE load cut off at its end, as each bench step is)', {
    timeout: 30_000,
  }, async () => {
    // autocannon destroys its 200 connections when the step ends, some before their first event
    // has reached the floor: pipe() to such a response throws, and once killed the floor here.
    for (let i = 0; i < 5; i++) {
      const run = await runLoad({
        url: floor.url,
        models: [MODEL],
        maxTokens: 1,
        durationS: 0.5,
        connections: 200,
        stream: true,
      });
      assert.equal(run.errors + run.non2xx, 0, `run ${i + 1}: ${run.errors} errors, ${run.non2xx} non-2xx`);
      assert.ok(run.ok2xx > 0);
    }
    const next = await post(floor.url, '/v1/completions', { model: MODEL });
    assert.equal(next.status, 200, 'the floor still answers');
  });

  it("the floor verifies a stream's first event, split across writes: another model is a 502", async () => {
    const first = chunk(MODEL, 'a');
    scripted.script(
      MODEL,
      sse([chunk('google/gemma-2b-it', 'a'), DONE]),
      sse([first.slice(0, 10), first.slice(10), chunk(MODEL, 'b'), DONE]),
    );
    const wrong = await post(floorOnScripted.url, '/v1/chat/completions', { model: MODEL, stream: true });
    assert.equal(wrong.status, 502);
    const right = await post(floorOnScripted.url, '/v1/chat/completions', { model: MODEL, stream: true });
    assert.equal(right.status, 200);
    assert.equal(right.text, `${first}${chunk(MODEL, 'b')}${DONE}`);
  });
});
