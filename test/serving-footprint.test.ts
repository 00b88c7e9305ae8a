import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { parseExposition } from './support/metrics-text.ts';
import { chunk, DONE, json, ScriptedUpstream, sse } from './support/scripted-upstream.ts';

// Issue 13, "cut memory": what a serving sidecar loads and holds once it listens. Each module a
// package or the repository brings in is reported by the load reporter; the heap's sizes come
// from backstop's own /metrics, before the first request.
const REPORT_LOADS = fileURLToPath(new URL('./support/report-module-loads.ts', import.meta.url));
const MIB = 1024 * 1024;
/** Modules serving must never load: undici's index, and the repository's simulator and bench. */
const NEVER = [
  new URL('../node_modules/undici/index.js', import.meta.url).href,
  new URL('../src/simulator/', import.meta.url).href,
  new URL('../bench/', import.meta.url).href,
];

describe('a serving backstop', () => {
  let upstream: ScriptedUpstream;
  let backstop: BackstopProcess;
  let heapAtStart: Map<string, number>;

  before(async () => {
    upstream = await new ScriptedUpstream().listen();
    upstream.script('phi-3', json('phi-3'), sse([chunk('phi-3', 'hi'), DONE]));
    backstop = await startBackstop({ UPSTREAM_URL: upstream.url, NODE_OPTIONS: `--import=${REPORT_LOADS}` });
    const text = await (await fetch(`${backstop.adminUrl}/metrics`)).text();
    heapAtStart = new Map(
      parseExposition(text)
        .samples.filter((s) => s.name === 'backstop_nodejs_heap_space_size_total_bytes')
        .map((s) => [s.labels.space as string, s.value]),
    );
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
      urls.filter((u) => NEVER.some((prefix) => u.startsWith(prefix))),
      [],
    );
  });

  test('listens with its young generation shrunk, not grown to its start-up size', () => {
    // Start-up grows new space to its maximum (16 MiB with the shipped flags, 32 MiB without);
    // the compaction before listen (src/compact-heap.ts) leaves 1 MiB. The bound is wide; what it
    // catches is the compaction gone.
    const young = heapAtStart.get('new');
    assert.ok(young !== undefined, 'backstop_nodejs_heap_space_size_total_bytes{space="new"} is exported');
    assert.ok(young <= 4 * MIB, `new space ${(young / MIB).toFixed(1)} MiB at start`);
  });
});
