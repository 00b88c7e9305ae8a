import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { chunk, DONE, json, ScriptedUpstream, sse } from './support/scripted-upstream.ts';

// Issue 13, "cut memory": what a serving sidecar loads and holds once it listens. Each module a
// package or the repository brings in is reported by the load reporter; the heap's sizes come
// from backstop's own /metrics, before the first request.
const REPORT_LOADS = fileURLToPath(new URL('./support/report-module-loads.ts', import.meta.url));

describe('a serving backstop', () => {
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    upstream.script('phi-3', json('phi-3'), sse([chunk('phi-3', 'hi'), DONE]));
    backstop = await startBackstop({ UPSTREAM_URL: upstream.url, NODE_OPTIONS: `--import=${REPORT_LOADS}` });
    // One JSON answer and one stream, so whatever loads lazily on the way has loaded.
    for (const stream of [false, true]) {
      const res = await fetch(`${backstop.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'phi-3', messages: [], stream }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
  });

  after(async () => {
    await backstop.stop();
    await upstream.close();
  });

  const loaded = () =>
    backstop.logs.filter((l) => l.msg === 'module loaded' && l.url !== 'reporter').map((l) => String(l.url));

  test('loads the Pool from undici, not its index, and neither the simulator nor the bench', () => {
    const urls = loaded();
    assert.ok(
      urls.some((u) => u.endsWith('/node_modules/undici/lib/dispatcher/pool.js')),
      'the load reporter saw undici',
    );
    assert.deepEqual(
      urls.filter((u) => /\/node_modules\/undici\/index\.js$|\/src\/simulator\/|\/bench\//.test(u)),
      [],
    );
  });
});
