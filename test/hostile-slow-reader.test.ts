import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { inflight, until } from './support/proxy-client.ts';
import { chunk } from './support/scripted-upstream.ts';
import { streamChat } from './support/sse-client.ts';
import { within } from './support/within.ts';

const MiB = 1024 * 1024;
const MODEL = 'slow-reader';

/** backstop's resident set, read from outside the process. */
function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/**
 * An upstream that wants to stream `rate` bytes/s of SSE forever (64 KiB events, every 16 ms) and
 * respects its own backpressure: what it could not hand to `res.write` is counted as offered, not sent.
 */
class FirehoseUpstream {
  offered = 0;
  sent = 0;
  refusedWrites = 0;
  streams = 0;
  url = '';
  readonly #server = createServer((req, res) => {
    req.resume();
    req.on('end', () => this.#stream(res));
  });
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sentWaiters = new Set<{ bytes: number; resolve: () => void }>();

  readonly rate: number;

  constructor(rate: number) {
    this.rate = rate;
  }

  /** Resolves once `sent` reaches `bytes`: the upstream's own count, told as it changes. */
  whenSent(bytes: number): Promise<void> {
    if (this.sent >= bytes) return Promise.resolve();
    return new Promise((resolve) => this.#sentWaiters.add({ bytes, resolve }));
  }

  async listen(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  #stream(res: ServerResponse): void {
    this.streams += 1;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk(MODEL, 'first'));
    const event = Buffer.from(chunk(MODEL, 'x'.repeat(64 * 1024 - 200)));
    const tickMs = 16;
    const perTick = Math.round((this.rate * tickMs) / 1000);
    let owed = 0;
    // Writes what is owed while the socket takes it, on every tick and on every 'drain'.
    const pump = () => {
      while (owed > 0 && !res.writableNeedDrain && !res.destroyed) {
        if (!res.write(event)) this.refusedWrites += 1;
        this.sent += event.length;
        owed -= event.length;
      }
      for (const waiter of this.#sentWaiters) {
        if (this.sent < waiter.bytes) continue;
        this.#sentWaiters.delete(waiter);
        waiter.resolve();
      }
    };
    const timer = setInterval(() => {
      this.offered += perTick;
      // A producer that cannot send keeps at most one tick's worth waiting (no queue of its own).
      owed = Math.min(owed + perTick, 2 * perTick);
      pump();
    }, tickMs);
    res.on('drain', pump);
    this.#timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      this.#timers.delete(timer);
    });
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

let upstream: FirehoseUpstream;
let backstop: BackstopProcess;

before(async () => {
  upstream = await new FirehoseUpstream(64 * MiB).listen();
  backstop = await startBackstop({
    UPSTREAM_URL: upstream.url,
    // Shorter than the test: a stream held back by a slow reader is not "idle" upstream.
    STREAM_IDLE_TIMEOUT_MS: '1000',
  });
});

after(async () => {
  await backstop.stop();
  await upstream.close();
});

// How much the upstream must have offered before the slow reader's run ends: its rate for 3 s. The
// run lasts as long as that takes (3 s on an idle machine, more when the CPU is shared and the
// upstream's 16 ms ticks come late), so the figure the assertions rest on does not depend on the
// CPU. It is almost 4x GROWTH_BOUND: without backpressure, backstop would have to hold it.
const OFFER_TARGET = 192 * MiB;
const GROWTH_BOUND = 50 * MiB;
const SAMPLE_MS = 200;

test('a client reading 1 KiB/s from an upstream offering 64 MiB/s: backstop memory stays flat, the upstream is throttled', async () => {
  const pid = backstop.child.pid as number;
  // Warm up (JIT, pools, buffers) with a stream read at full speed, for 16 MiB.
  const warm = streamChat(backstop.url, { model: MODEL });
  await warm.headers;
  await within(upstream.whenSent(upstream.sent + 16 * MiB), 10_000, 'the warm-up stream to carry 16 MiB');
  warm.abort();
  await warm.result.catch(() => undefined);
  await until(async () => (await inflight(backstop.adminUrl)) === 0, 'the warm-up stream to end');
  const baseline = rssBytes(pid);

  const offeredBefore = upstream.offered;
  const sentBefore = upstream.sent;
  const refusedBefore = upstream.refusedWrites;
  const socket = connect(Number(new URL(backstop.url).port), '127.0.0.1');
  await once(socket, 'connect');
  const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'x' }] });
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  socket.pause();
  let received = 0;
  let peak = baseline;
  const samples: number[] = [];
  const started = performance.now();
  // The upstream's counts half-way through the offer, once the buffers on the way have filled.
  let halfway: { offered: number; sent: number } | undefined;
  for (let s = 1; upstream.offered - offeredBefore < OFFER_TARGET; s++) {
    assert.ok(performance.now() - started < 30_000, `the upstream offered ${OFFER_TARGET / MiB} MiB in 30 s`);
    // The client's own pace, not a wait for something: it reads 1 KiB a second, and RSS is sampled
    // as it goes.
    await sleep(SAMPLE_MS);
    if (s % 5 === 0) received += socket.read(1024)?.length ?? 0;
    const rss = rssBytes(pid);
    samples.push(rss);
    peak = Math.max(peak, rss);
    if (halfway === undefined && upstream.offered - offeredBefore >= OFFER_TARGET / 2) {
      halfway = { offered: upstream.offered, sent: upstream.sent };
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const offered = upstream.offered - offeredBefore;
  const sent = upstream.sent - sentBefore;
  assert.ok(halfway, 'a sample half-way through the offer');
  const lateOffered = upstream.offered - halfway.offered;
  const lateSent = upstream.sent - halfway.sent;
  const growth = peak - baseline;
  socket.destroy();
  await until(async () => (await inflight(backstop.adminUrl)) === 0, 'the slow request to end');
  const closed = () => backstop.logs.filter((l) => l.msg === 'request' && l.outcome === 'client_closed');
  await until(() => closed().length === 2, 'the request log lines of both streams');

  process.stdout.write(
    `# slow reader: ${elapsed.toFixed(1)} s, client read ${received} B; upstream offered ${(offered / MiB).toFixed(0)} MiB, ` +
      `sent ${(sent / MiB).toFixed(1)} MiB (${upstream.refusedWrites - refusedBefore} writes returned false), ` +
      `of which ${(lateSent / MiB).toFixed(1)} MiB in the second half (offered ${(lateOffered / MiB).toFixed(0)} MiB); ` +
      `backstop RSS ${(baseline / MiB).toFixed(1)} MiB -> peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)} MiB); ` +
      `samples ${samples.map((s) => (s / MiB).toFixed(0)).join(' ')}\n`,
  );
  // Ratios of the upstream's own counts: they hold whatever the CPU's speed.
  assert.ok(
    sent < offered / 4,
    `the upstream could only send ${(sent / MiB).toFixed(1)} MiB of ${(offered / MiB).toFixed(0)} MiB (socket buffers)`,
  );
  assert.ok(
    lateSent < lateOffered / 20,
    `once the buffers were full it sent ${(lateSent / MiB).toFixed(1)} MiB of ${(lateOffered / MiB).toFixed(0)} MiB offered`,
  );
  assert.ok(
    upstream.refusedWrites - refusedBefore > 0,
    "the upstream's writes were refused: backpressure reached it",
  );
  assert.ok(growth < GROWTH_BOUND, `backstop RSS grew ${(growth / MiB).toFixed(1)} MiB`);
  assert.ok(received > 0 && received <= Math.ceil(elapsed) * 1024, `read ${received} B in ${elapsed} s`);
  assert.ok(
    backstop.logs.every((l) => l.outcome !== 'stream_error'),
    'the slow stream was not cut by STREAM_IDLE_TIMEOUT_MS: it ended when the client left',
  );
});
