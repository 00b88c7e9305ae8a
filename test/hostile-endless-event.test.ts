import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { inflight } from './support/proxy-client.ts';
import { chunk, DONE, ScriptedUpstream, type Step, sse } from './support/scripted-upstream.ts';
import { streamChat } from './support/sse-client.ts';

// Issue 10, defect 1: after a verified first event, an upstream sends bytes with no blank line,
// forever. The relay framer holds an unfinished event until its blank line; it must give up once
// the event passes its bound (MAX_RESPONSE_BYTES, 16 MiB by default), end the client's stream
// with `stream_interrupted`, and stop reading the upstream, instead of holding (and rescanning)
// everything it is sent.

const MiB = 1_048_576;
const EVENT_BOUND = 16 * MiB;
/** Far past the bound: an upstream that gets this far was never stopped. */
const UPSTREAM_CAP = 256 * MiB;
/** Wide: the bounded relay ends the stream in well under a second on loopback. */
const STREAM_BOUND_MS = 15_000;

let upstream: ScriptedUpstream;
let backstop: BackstopProcess;

before(async () => {
  upstream = await new ScriptedUpstream().listen();
  // MAX_RESPONSE_BYTES left at its default: the framer's bound is that default.
  backstop = await startBackstop({ UPSTREAM_URL: upstream.url });
});

after(async () => {
  // Checked while it runs, and cleaned up whatever the checks threw: a failed one must not leave
  // a server open and the file running.
  let code: number | null;
  try {
    assert.equal(backstop.child.exitCode, null, 'backstop survived');
    assert.equal(await inflight(backstop.adminUrl), 0, 'no request left in flight');
  } finally {
    code = await backstop.stop();
    await upstream.close();
  }
  assert.equal(code, 0);
});

/** backstop's resident set, read from outside the process. */
function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** `promise`'s value, or 'timeout' if it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the endless upstream did, for the assertions. */
interface Endless {
  sent: number;
  /** Resolves when backstop closed the connection. */
  closed: Promise<void>;
}

/** A valid first event, then `data: "aaaa...` with no line end, written as fast as the socket takes it. */
function endlessEvent(state: Endless): Step {
  return (_req, res: ServerResponse, body) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk(String(body?.model), 'Hello'));
    res.write('data: {"pad":"');
    const pad = Buffer.alloc(64 * 1024, 'a');
    const pump = () => {
      while (!res.destroyed && state.sent < UPSTREAM_CAP) {
        state.sent += pad.length;
        if (!res.write(pad)) return;
      }
    };
    res.on('drain', pump);
    pump();
  };
}

test('an endless event after the first one ends the stream with stream_interrupted; memory stays bounded', async () => {
  // Warm up (JIT, pool, buffers) so the baseline is the process at work, not at rest.
  upstream.script('warm', sse([chunk('warm', 'hi'), DONE]));
  assert.equal((await streamChat(backstop.url, { model: 'warm' }).result).done, true);
  const pid = backstop.child.pid as number;
  const baseline = rssBytes(pid);

  const state: Endless = { sent: 0, closed: Promise.resolve() };
  let closed: () => void = () => {};
  state.closed = new Promise((resolve) => {
    closed = resolve;
  });
  upstream.script('endless', (req, res, body) => {
    res.on('close', () => closed());
    endlessEvent(state)(req, res, body);
  });
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 20);
  const started = performance.now();
  const stream = streamChat(backstop.url, { model: 'endless' });
  const outcome = await within(stream.result, STREAM_BOUND_MS);
  clearInterval(sampler);
  peak = Math.max(peak, rssBytes(pid));
  const ms = performance.now() - started;
  const growth = peak - baseline;
  const figures = `upstream sent ${(state.sent / MiB).toFixed(1)} MiB; backstop RSS ${(baseline / MiB).toFixed(1)} -> peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)} MiB) in ${ms.toFixed(0)} ms`;
  process.stdout.write(`# endless event: ${figures}\n`);
  if (outcome === 'timeout') stream.abort();
  assert.notEqual(outcome, 'timeout', `the stream did not end within ${STREAM_BOUND_MS} ms; ${figures}`);
  const r = await stream.result;

  assert.equal(r.status, 200);
  assert.equal(r.content, 'Hello', 'the whole event before the endless one arrives');
  assert.equal(r.done, false, 'no [DONE]');
  assert.equal(r.ending, 'end', 'the response ends properly, with the error as its last event');
  assert.deepEqual(
    r.errors.map((e) => e.code),
    ['stream_interrupted'],
  );
  assert.match(r.raw, /\n\ndata: \{"error":\{[^\n]*\}\}\n\n$/, 'the error is its own, last, complete event');
  assert.ok(!r.raw.includes('"pad"'), 'no byte of the unfinished event reaches the client');

  // backstop stopped reading: the upstream saw its connection closed well before its cap.
  assert.notEqual(
    await within(state.closed, STREAM_BOUND_MS),
    'timeout',
    `upstream never closed; ${figures}`,
  );
  assert.ok(state.sent < EVENT_BOUND + 48 * MiB, figures);
  // What is held is bounded by the event bound (plus socket buffers and garbage not yet collected).
  assert.ok(growth < EVENT_BOUND + 80 * MiB, figures);
  const log = await backstop.waitForLog((l) => l.msg === 'request' && l.model === 'endless');
  assert.equal(log.outcome, 'stream_error');
  assert.deepEqual(log.results, ['ok'], 'committed at the first event: no retry after the first byte');

  // And backstop goes on serving.
  upstream.script('after', sse([chunk('after', 'still here'), DONE]));
  const next = await streamChat(backstop.url, { model: 'after' }).result;
  assert.equal(next.content, 'still here');
  assert.equal(next.done, true);
});
