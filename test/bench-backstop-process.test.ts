import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { closedLoop } from '../bench/load/loops.ts';
import { startShippedBackstop } from '../bench/processes/backstop.ts';
import { DEFAULT_MODELS, type Simulator, startSimulator } from '../src/simulator/index.ts';
import type { BackstopProcess } from './support/backstop-process.ts';

// The bench's backstop: the shipped build, started through the tests' own starter with its access
// log drained unread. The log is the product's default (info, one line per request), so a run of
// a few thousand requests writes far more than a pipe holds (64 KiB on Linux): if nobody read it,
// backstop's logger would fill the pipe and then backstop's memory.
const MODEL = DEFAULT_MODELS[0]?.name as string;
const REQUESTS = 2000;

describe('bench: the shipped backstop with its log drained', () => {
  let sim: Simulator;
  let backstop: BackstopProcess;
  const dispatcher = new Agent({ connections: 16, allowH2: false });
  before(async () => {
    sim = await startSimulator({ seed: 42, timeScale: 0, faults: { flapping: false } });
    backstop = await startShippedBackstop(sim.url);
  });
  after(async () => {
    await dispatcher.close();
    await backstop?.stop();
    await sim?.close();
  });

  it(`serves ${REQUESTS} requests, its access log drained while it serves and never parsed`, {
    timeout: 60_000,
  }, async () => {
    const stdout = backstop.child.stdout;
    let drained = 0;
    stdout?.on('data', (chunk: Buffer) => {
      drained += chunk.length;
    });
    const statuses = await closedLoop(REQUESTS, 16, async (i) => {
      const res = await request(`${backstop.url}/v1/completions`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: `Request ${i}`, max_tokens: 1 }),
      });
      await res.body.dump();
      return res.statusCode;
    });
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.ok(
      backstop.logs.every((line) => line.msg !== 'request'),
      'no access log line was parsed into logs',
    );
    // The access log flowed through the pipe while backstop served: more than one pipe's worth
    // (a paused stdout would have held it at 0 here, and slowed every request ~10x).
    assert.ok(drained > 64 * 1024, `${drained} bytes of log drained during the run`);
  });
});
