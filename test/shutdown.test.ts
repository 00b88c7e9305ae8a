import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODELS, expectedContent, type Simulator, startSimulator } from '../src/simulator/index.ts';
import { startBackstop } from './support/backstop-process.ts';
import { chat, until } from './support/proxy-client.ts';
import { chunk, ScriptedUpstream, sse } from './support/scripted-upstream.ts';
import { Agent, streamChat } from './support/sse-client.ts';

const GEMMA = (DEFAULT_MODELS[1] as { name: string }).name;
const exitCode = (child: { exitCode: number | null }, exited: Promise<unknown[]>) =>
  exited.then(() => child.exitCode);

/** Resolves 'refused' when a TCP connect to `port` is refused, 'accepted' when it connects. */
function tryConnect(port: number): Promise<'accepted' | 'refused'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', () => resolve('refused'));
  });
}

/** A raw keep-alive connection that made one request and now sits idle. */
async function idleKeepAlive(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /v1/nothing-here HTTP/1.1\r\nHost: x\r\n\r\n');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    text += c;
  });
  await until(() => /\r\n\r\n[\s\S]*\}$/.test(text), 'the first answer on the keep-alive connection');
  const closed = once(socket, 'close').then(() => Date.now());
  return { socket, closed };
}

let sim: Simulator | undefined;
let upstream: ScriptedUpstream | undefined;
after(async () => {
  await sim?.close();
  await upstream?.close();
});

test('SIGTERM with 50 streams in flight: /readyz 503 at once, new connections served for SHUTDOWN_DELAY_MS, every stream intact, exit 0', async () => {
  const DELAY = 600;
  const GRACE = 15_000;
  const TOKENS = 40;
  // 40 tokens 50 ms apart after a 100 ms TTFT: each stream lasts about 2.1 s.
  sim = await startSimulator({ seed: 1, faults: { flapping: false }, latency: { ttftMs: 100, tpotMs: 50 } });
  const backstop = await startBackstop({
    UPSTREAM_URL: sim.url,
    SHUTDOWN_DELAY_MS: String(DELAY),
    SHUTDOWN_GRACE_MS: String(GRACE),
  });
  const port = Number(new URL(backstop.url).port);
  const exited = once(backstop.child, 'exit');
  const agent = new Agent({ keepAlive: true, maxSockets: 100 });
  const streams = Array.from({ length: 50 }, () =>
    streamChat(backstop.url, { model: GEMMA, max_tokens: TOKENS }, agent),
  );
  await Promise.all(streams.map((s) => s.headers));
  const idle = await idleKeepAlive(port);

  // /readyz, polled back to back from before the signal to the end.
  const ready: { sentAt: number; status: number }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const sentAt = Date.now();
      try {
        const res = await fetch(`${backstop.adminUrl}/readyz`);
        await res.arrayBuffer();
        ready.push({ sentAt, status: res.status });
      } catch {
        return; // the admin listener closed at the end of the drain
      }
    }
  })();
  await until(() => ready.length > 0, 'a /readyz answer before the signal');
  assert.equal(ready[0]?.status, 200);

  const signalledAt = Date.now();
  backstop.child.kill('SIGTERM');
  const draining = await backstop.waitForLog((l) => l.msg === 'draining');
  const drainingAt = Date.parse(String(draining.time));

  // During SHUTDOWN_DELAY_MS a brand-new connection is still served.
  const late = await chat(
    backstop.url,
    GEMMA,
    {},
    { headers: { connection: 'close', 'content-type': 'application/json' } },
  );
  assert.equal(late.status, 200, 'a new connection during the delay is served');
  assert.ok(Date.now() - signalledAt < DELAY, 'that request was inside the delay');

  // Then the listener closes: new connections are refused.
  await until(async () => (await tryConnect(port)) === 'refused', 'the listener to close', DELAY + 2000);
  const listenerClosedAt = Date.now();
  const idleClosedAt = await idle.closed;

  const results = await Promise.all(streams.map((s) => s.result));
  const streamsDoneAt = Date.now();
  const code = await exitCode(backstop.child, exited);
  const exitedAt = Date.now();
  polling = false;
  await poller;
  agent.destroy();

  const expected = expectedContent(GEMMA, 'hi', TOKENS);
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.equal(r.ending, 'end');
    assert.deepEqual(r.errors, []);
    assert.equal(r.done, true, 'ends with [DONE]');
    assert.equal(r.content, expected, 'every token, in order');
  }
  assert.equal(code, 0);
  assert.ok(exitedAt - signalledAt < GRACE, `exited ${exitedAt - signalledAt} ms after SIGTERM`);

  const afterSignal = ready.filter((r) => r.sentAt >= drainingAt);
  assert.ok(afterSignal.length > 0, 'readiness was polled during the drain');
  assert.ok(
    afterSignal.every((r) => r.status === 503),
    'every /readyz asked after the drain began is 503',
  );
  const first503 = ready.find((r) => r.status === 503);
  assert.ok(first503, 'a 503 was seen');
  const flip = ready.indexOf(first503);
  assert.ok(
    ready.slice(flip).every((r) => r.status === 503),
    'never ready again',
  );
  assert.ok(
    idleClosedAt < streamsDoneAt,
    'the idle keep-alive connection was closed without waiting for the streams',
  );
  const last200 = ready.slice(0, flip).at(-1) as { sentAt: number };
  process.stdout.write(
    `# drain: last /readyz 200 asked at ${last200.sentAt - signalledAt} ms, first 503 asked at ${first503.sentAt - signalledAt} ms (relative to SIGTERM, ms clock) ` +
      `(draining logged ${drainingAt - signalledAt} ms after it); ${ready.length} readyz polls; ` +
      `listener refused at +${listenerClosedAt - signalledAt} ms (delay ${DELAY}); idle keep-alive closed at +${idleClosedAt - signalledAt} ms; ` +
      `50 streams intact at +${streamsDoneAt - signalledAt} ms; exit 0 at +${exitedAt - signalledAt} ms (grace ${GRACE})\n`,
  );
});

test('a second signal exits at once, streams or not', async () => {
  upstream ??= await new ScriptedUpstream().listen();
  upstream.script(
    'slow',
    sse(
      Array.from({ length: 1000 }, (_, i) => chunk('slow', `t${i}`)),
      { delayMs: 20 },
    ),
  );
  const backstop = await startBackstop({
    UPSTREAM_URL: upstream.url,
    SHUTDOWN_DELAY_MS: '5000',
    SHUTDOWN_GRACE_MS: '30000',
  });
  const exited = once(backstop.child, 'exit');
  const stream = streamChat(backstop.url, { model: 'slow' });
  await stream.headers;
  backstop.child.kill('SIGTERM');
  await backstop.waitForLog((l) => l.msg === 'draining');
  const second = Date.now();
  backstop.child.kill('SIGINT');
  const code = await exitCode(backstop.child, exited);
  const took = Date.now() - second;
  assert.notEqual(code, null);
  assert.ok(took < 1000, `exited ${took} ms after the second signal`);
  const result = await stream.result;
  assert.equal(result.done, false);
  process.stdout.write(`# second signal: exit code ${code} after ${took} ms\n`);
});

test('streams still running when SHUTDOWN_GRACE_MS ends are cut, and the process still exits 0', async () => {
  upstream ??= await new ScriptedUpstream().listen();
  upstream.script(
    'endless',
    sse(
      Array.from({ length: 10_000 }, (_, i) => chunk('endless', `t${i}`)),
      { delayMs: 20 },
    ),
  );
  const GRACE = 400;
  const backstop = await startBackstop({
    UPSTREAM_URL: upstream.url,
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_GRACE_MS: String(GRACE),
  });
  const exited = once(backstop.child, 'exit');
  const stream = streamChat(backstop.url, { model: 'endless' });
  await stream.headers;
  const signalled = Date.now();
  backstop.child.kill('SIGTERM');
  const code = await exitCode(backstop.child, exited);
  const took = Date.now() - signalled;
  const result = await stream.result;
  assert.equal(code, 0);
  assert.ok(took >= GRACE && took < GRACE + 2000, `exited ${took} ms after SIGTERM (grace ${GRACE})`);
  assert.equal(result.done, false, 'no [DONE]: the client can tell the stream was cut');
  assert.equal(result.ending, 'aborted', 'not a clean end of the body');
  const seen = upstream.seen.find((s) => s.body.includes('endless'));
  assert.equal(await seen?.closed, 'aborted', 'the upstream stream was closed too');
});

test('SIGTERM exits even when stdout is gone (a log collector that died): no endless flush', async () => {
  // sonic-boom 4's flushSync retried a write that failed with EPIPE forever, so a backstop whose
  // stdout pipe had closed never exited on SIGTERM and waited for SIGKILL (issue 10); backstop's
  // own LineWriter reports the failure once and drops lines from then on.
  const child = spawn(process.execPath, [fileURLToPath(new URL('../src/main.ts', import.meta.url))], {
    env: {
      PATH: process.env.PATH ?? '',
      UPSTREAM_URL: 'http://127.0.0.1:9',
      HOST: '127.0.0.1',
      PORT: '0',
      ADMIN_PORT: '0',
      SHUTDOWN_DELAY_MS: '0',
      SHUTDOWN_GRACE_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = once(child, 'exit');
  const stdout = child.stdout as NodeJS.ReadableStream & { destroy(): void };
  const first = await new Promise<string>((resolve) =>
    stdout.once('data', (chunk) => resolve(String(chunk))),
  );
  const { port } = JSON.parse(first.split('\n')[0] as string) as { port: number };
  // The reader goes away: every later write to the pipe fails with EPIPE.
  stdout.destroy();
  // Still serving (each answer is a log line that cannot be written), with no crash.
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/not-v1`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  }
  assert.equal(child.exitCode, null, 'backstop kept running without its stdout');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = await exited;
  clearTimeout(timer);
  assert.notEqual(signal, 'SIGKILL', 'backstop did not exit on SIGTERM within 15 s');
  assert.deepEqual([code, signal], [0, null]);
});
