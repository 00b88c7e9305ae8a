import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { chat, scrape } from './support/proxy-client.ts';
import { eppUnavailable, json, ScriptedUpstream } from './support/scripted-upstream.ts';

/**
 * Issue 10, defect 7c: models beyond METRICS_MAX_MODELS share the `model="other"` label, and
 * `backstop_circuit_state{model="other"}` used to take the last transition of any of them, so one
 * overflow model closing hid another one's open breaker from BackstopCircuitOpen. It is now the
 * worst state among their breakers: 2 while any of them is open.
 */
describe('backstop_circuit_state{model="other"}', () => {
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    backstop = await startBackstop({
      UPSTREAM_URL: upstream.url,
      METRICS_MAX_MODELS: '1',
      BREAKER_FAILURE_THRESHOLD: '1',
      BREAKER_COOLDOWN_MS: '200',
      BREAKER_MAX_COOLDOWN_MS: '200',
      RETRY_MAX_ATTEMPTS: '1',
    });
  });

  after(async () => {
    const code = await backstop.stop();
    await upstream.close();
    // After the cleanup: a failed assertion must not leave a server open and the file running.
    assert.equal(code, 0);
  });

  const state = async (model: string) =>
    (await scrape(backstop.adminUrl)).find(
      (s) => s.name === 'backstop_circuit_state' && s.labels.model === model,
    )?.value;

  /** Asks for `model` until a request gets through its breaker (the cooldown is a duration). */
  async function probe(model: string) {
    for (;;) {
      const answer = await chat(backstop.url, model);
      if (answer.code !== 'circuit_open') return answer;
    }
  }

  test('is the worst state among the overflow models, not the last transition of any of them', async () => {
    upstream.script('c-labelled', json());
    assert.equal((await chat(backstop.url, 'c-labelled')).status, 200, 'takes the one model label');
    upstream.script('c-over-a', eppUnavailable, json());
    upstream.script('c-over-b', eppUnavailable, json());

    assert.equal((await chat(backstop.url, 'c-over-a')).code, 'retries_exhausted');
    assert.equal(await state('other'), 2, 'a is open');
    assert.equal((await chat(backstop.url, 'c-over-b')).code, 'retries_exhausted');
    assert.equal(await state('other'), 2, 'a and b are open');

    // b recovers: its probe succeeds and its breaker closes. a is still open.
    assert.equal((await probe('c-over-b')).status, 200);
    assert.equal(await state('other'), 2, "b's recovery does not hide a's open breaker");
    assert.equal(await state('c-labelled'), 0, 'a labelled model keeps its own series');

    assert.equal((await probe('c-over-a')).status, 200);
    assert.equal(await state('other'), 0, 'all closed');
  });
});
