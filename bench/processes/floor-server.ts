/**
 * The floor (issue 13): the least a verifying proxy can do, run by floor.ts as a process of its own
 * with backstop's Node flags. node:http in, undici `Pool.request` out; it parses the request JSON,
 * and checks the answer's `model`: JSON, the whole body through `JSON.parse`; SSE, the first event,
 * then the rest piped with backpressure. Nothing else: no logs, no metrics, no breaker, no retries,
 * no timeouts. backstop's CPU, latency and memory are read as ratios to this.
 *
 * argv[2]: the upstream's base URL; argv[3]: the pool's connections (default 256, backstop's
 * default UPSTREAM_CONNECTIONS). Prints `{"port": N}` once listening on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, type Readable } from 'node:stream';
import { Pool } from 'undici';

/** As many sockets upstream as backstop may open (its UPSTREAM_CONNECTIONS). */
const pool = new Pool(process.argv[2] as string, {
  connections: Number(process.argv[3] ?? 256),
  pipelining: 1,
  allowH2: false,
});
const EVENT_END = Buffer.from('\n\n');

function fail(res: ServerResponse, status: number): void {
  if (res.headersSent) res.destroy();
  else res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":{"message":"floor"}}');
}

async function relay(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
  let asked: { model?: unknown; stream?: unknown };
  try {
    asked = JSON.parse(body.toString('utf8')) as typeof asked;
  } catch {
    return fail(res, 400);
  }
  const up = await pool.request({
    method: 'POST',
    path: req.url as string,
    headers: { 'content-type': 'application/json' },
    body,
  });
  const type = String(up.headers['content-type'] ?? 'application/json');
  if (up.statusCode === 200 && asked.stream === true && type.startsWith('text/event-stream'))
    return relayStream(up.body, asked.model, res);
  const text = await up.body.text();
  if (up.statusCode === 200 && (JSON.parse(text) as { model?: unknown }).model !== asked.model)
    return fail(res, 502);
  res.writeHead(up.statusCode, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(text);
}

/** The `model` of an SSE event's data, or undefined when it is not JSON. */
function firstModel(event: string): unknown {
  try {
    return (JSON.parse(event.slice(event.indexOf('data:') + 5).trim()) as { model?: unknown }).model;
  } catch {
    return undefined;
  }
}

/** Holds bytes until the first event is whole, checks its `model`, then pipes the rest. */
function relayStream(body: Readable, model: unknown, res: ServerResponse): void {
  let head: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const end = head.indexOf(EVENT_END);
    if (end < 0) return;
    body.off('data', onData);
    // The client may have gone while the first event was on its way: pipeline() throws on a
    // destroyed destination, so end the upstream body here instead.
    if (res.destroyed) return void body.destroy();
    body.pause();
    const first = head.subarray(0, end).toString('utf8');
    if (firstModel(first) !== model) {
      body.destroy();
      return fail(res, 502);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(head);
    pipeline(body, res, () => {});
  };
  body.on('data', onData);
  body.once('error', () => fail(res, 502));
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  // A client that resets before its body is in: nothing to answer (unhandled, it would crash).
  req.once('error', () => res.destroy());
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    relay(req, Buffer.concat(chunks), res).catch(() => fail(res, 502));
  });
});
server.keepAliveTimeout = 60_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
