import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { chat, inflight, until } from './support/proxy-client.ts';
import { json, ScriptedUpstream } from './support/scripted-upstream.ts';
import { within } from './support/within.ts';

// Listener limits against hostile clients: header size, slowloris, connection cap, oversized and
// half-sent bodies. backstop must answer or drop each, and stay up with nothing left in flight.

const HEADERS_TIMEOUT = 1000;
// A connection held past HEADERS_TIMEOUT_MS is cut at Node's next connections check, which
// backstop runs every min(1000 ms, HEADERS_TIMEOUT_MS): between 1 and 2 s here. Node's own default
// check runs every 30 s, and its default headersTimeout is 60 s; 10 s lies far from all of them.
const CUT_BOUND = 10 * HEADERS_TIMEOUT;
const MAX_CONNECTIONS = 8;
let upstream: ScriptedUpstream;
let backstop: BackstopProcess;
let port = 0;

before(async () => {
  upstream = await new ScriptedUpstream().listen();
  upstream.script('c-ok', json());
  backstop = await startBackstop({
    UPSTREAM_URL: upstream.url,
    HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT),
    MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    MAX_BODY_BYTES: '4096',
  });
  port = Number(new URL(backstop.url).port);
});

after(async () => {
  // Checked while it runs, and cleaned up whatever the checks threw: a failed one must not leave
  // a server open and the file running.
  let code: number | null;
  try {
    assert.equal(backstop.child.exitCode, null, 'backstop survived');
    assert.equal(await inflight(backstop.adminUrl), 0, 'no request left counted in flight');
    assert.equal((await chat(backstop.url, 'c-ok')).status, 200, 'and still serves');
  } finally {
    code = await backstop.stop();
    await upstream.close();
  }
  assert.equal(code, 0);
});

/** Opens a raw connection; `text()` is what came back so far, `closed` when the server let go. */
async function open(): Promise<{ socket: Socket; text: () => string; closed: Promise<number> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    text += c;
  });
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => performance.now());
  return { socket, text: () => text, closed };
}

test('headers over 16 KiB: 431, connection closed', async () => {
  const c = await open();
  c.socket.write(`GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
  await c.closed;
  assert.match(c.text(), /^HTTP\/1\.1 431 /);
});

test('slowloris: headers dripped forever are cut after HEADERS_TIMEOUT_MS (408), not after Node default 30 s check', async () => {
  const c = await open();
  const started = performance.now();
  c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n');
  const drip = setInterval(() => c.socket.write('x'), 100);
  const closedAt = await within(c.closed, CUT_BOUND, 'the slowloris connection cut').finally(() =>
    clearInterval(drip),
  );
  const took = closedAt.value - started;
  assert.match(c.text(), /^HTTP\/1\.1 408 /);
  // Not sooner than the headers timeout: 80% of it leaves room for the client's 'connect' event
  // coming late under load (Node starts the clock at the server's accept).
  assert.ok(took >= 0.8 * HEADERS_TIMEOUT, `closed after ${took.toFixed(0)} ms, before HEADERS_TIMEOUT_MS`);
  process.stdout.write(
    `# slowloris closed after ${took.toFixed(0)} ms (HEADERS_TIMEOUT_MS ${HEADERS_TIMEOUT})\n`,
  );
});

test('a connection that sends nothing is closed by the same timeout', async () => {
  const c = await open();
  const started = performance.now();
  const took = (await within(c.closed, CUT_BOUND, 'the silent connection cut')).value - started;
  assert.ok(took >= 0.8 * HEADERS_TIMEOUT, `closed after ${took.toFixed(0)} ms, before HEADERS_TIMEOUT_MS`);
});

test(`MAX_CONNECTIONS (${MAX_CONNECTIONS}): more connections are dropped, and accepted again once some close`, async () => {
  const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, open));
  for (const c of held) c.socket.write('GET /v1/models HTTP/1.1\r\nhost: x\r\n'); // keep them busy
  const extra = await open();
  await extra.closed; // Node destroys connections beyond maxConnections at once
  assert.equal(extra.text(), '', 'dropped without an answer');
  for (const c of held) c.socket.destroy();
  await Promise.all(held.map((c) => c.closed));
  await until(async () => {
    try {
      return (await chat(backstop.url, 'c-ok')).status === 200;
    } catch {
      return false;
    }
  }, 'a new connection to be served again');
});

test('a body larger than MAX_BODY_BYTES (declared or chunked) gets 413; one that stops half-way is dropped', async () => {
  const declared = await open();
  declared.socket.write(
    'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"model":',
  );
  await declared.closed;
  assert.match(declared.text(), /^HTTP\/1\.1 413 /);
  assert.match(declared.text(), /"code":"body_too_large"/);

  const chunked = await open();
  const piece = `${'a'.repeat(2048)}`;
  chunked.socket.write(
    'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n',
  );
  for (let i = 0; i < 4; i++) chunked.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
  await chunked.closed;
  assert.match(chunked.text(), /^HTTP\/1\.1 413 /);

  const half = await open();
  const seen = upstream.seen.length;
  half.socket.write(
    'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":"c-ok"',
  );
  half.socket.destroy();
  await half.closed;
  const log = await backstop.waitForLog((l) => l.msg === 'request' && l.outcome === 'client_closed');
  assert.equal(log.status, 499, 'nothing could be answered: logged as 499, not 200');
  assert.equal(upstream.seen.length, seen, 'a half-sent body never goes upstream');
});
