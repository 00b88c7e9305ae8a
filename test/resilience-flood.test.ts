import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { type Answer, chat, inflight } from './support/proxy-client.ts';
import { eppUnavailable, json, ScriptedUpstream } from './support/scripted-upstream.ts';

/**
 * Issue 10, defect 3: the policies table is bounded (BREAKER_MAX_MODELS) because model names are
 * the client's, and when it is full it forgets policies that look idle. A request refused by an
 * open breaker never reaches the retry budget, so an open breaker looks idle: a flood of invented
 * names used to erase it, and the dead model's traffic went upstream again.
 */

/** The retry budget's window (src/resilience/retry-budget.ts): a request older than this is gone from it. */
const BUDGET_WINDOW_MS = 10_000;

/** Sends one chat request per name, `concurrency` at a time. */
async function flood(url: string, names: readonly string[], concurrency = 32): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) answers.push(await chat(url, names[next++] as string));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return answers;
}

describe('breakers under a flood of invented model names', () => {
  let upstream: ScriptedUpstream;
  before(async () => {
    upstream = await new ScriptedUpstream().listen();
  });
  after(async () => {
    await upstream.close();
  });

  const breakerEnv = {
    BREAKER_FAILURE_THRESHOLD: '1',
    // Long enough that the breaker cannot half-open during the test.
    BREAKER_COOLDOWN_MS: '600000',
    BREAKER_MAX_COOLDOWN_MS: '600000',
    RETRY_MAX_ATTEMPTS: '1',
  };

  test('an open breaker is still open after more invented names than BREAKER_MAX_MODELS (default 1000)', {
    timeout: 60_000,
  }, async () => {
    const backstop = await startBackstop({ UPSTREAM_URL: upstream.url, ...breakerEnv });
    try {
      upstream.script('f-dead', eppUnavailable);
      assert.equal((await chat(backstop.url, 'f-dead')).code, 'retries_exhausted', 'one failure opens it');
      const refused = await chat(backstop.url, 'f-dead');
      assert.equal(refused.code, 'circuit_open');
      // Its only request slides out of the budget window: from now on its policy looks idle to
      // the budget (refusals are not counted). Nothing to await but time.
      await sleep(BUDGET_WINDOW_MS + 500);
      const names = Array.from({ length: 1100 }, (_, i) => `f-invented-${i}`);
      for (const name of names) upstream.script(name, json());
      const answers = await flood(backstop.url, names);
      assert.equal(answers.filter((a) => a.status === 200).length, names.length);

      const later = await chat(backstop.url, 'f-dead');
      assert.equal(later.status, 503, later.text);
      assert.equal(later.code, 'circuit_open');
      assert.equal(
        upstream.count('f-dead'),
        1,
        'the dead model saw only the request that opened its breaker',
      );
      assert.equal(await inflight(backstop.adminUrl), 0);
    } finally {
      await backstop.stop();
    }
  });

  test('BREAKER_MAX_MODELS bounds the table: open breakers keep their places, a name without one is not remembered', async () => {
    const backstop: BackstopProcess = await startBackstop({
      UPSTREAM_URL: upstream.url,
      ...breakerEnv,
      BREAKER_MAX_MODELS: '2',
    });
    try {
      for (const model of ['g-dead-a', 'g-dead-b', 'g-dead-c']) upstream.script(model, eppUnavailable);
      for (const model of ['g-dead-a', 'g-dead-b']) {
        assert.equal((await chat(backstop.url, model)).code, 'retries_exhausted');
        assert.equal((await chat(backstop.url, model)).code, 'circuit_open');
      }
      // The table is full of open breakers: a third failing model finds no room, so its failures
      // open nothing that lasts, and each of its requests goes upstream.
      for (let i = 0; i < 3; i++)
        assert.equal((await chat(backstop.url, 'g-dead-c')).code, 'retries_exhausted');
      assert.equal(upstream.count('g-dead-c'), 3);
      for (const model of ['g-dead-a', 'g-dead-b']) {
        assert.equal((await chat(backstop.url, model)).code, 'circuit_open', model);
        assert.equal(upstream.count(model), 1, model);
      }
    } finally {
      await backstop.stop();
    }
  });
});
