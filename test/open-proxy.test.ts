import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { inflight } from './support/proxy-client.ts';
import { json, ScriptedUpstream, status } from './support/scripted-upstream.ts';

// backstop forwards only to UPSTREAM_URL, and only under its `/v1`: no request target, Host header
// or path spelling reaches another host or another path at the gateway. Raw sockets, so every
// byte of the request line is ours (fetch and the SDK would normalise the tricks away).

let gateway: ScriptedUpstream;
let evil: Server;
let evilConnections = 0;
let evilPort = 0;
let backstop: BackstopProcess;
let port = 0;

before(async () => {
  gateway = await new ScriptedUpstream().listen();
  gateway.script('op-model', json());
  gateway.script('/gw/v1/models', status(200, '{"object":"list","data":[]}'));
  gateway.script('/gw/v1/models?x=/../../admin', status(200, '{"object":"list","data":[]}'));
  evil = createServer((socket) => {
    evilConnections += 1;
    socket.destroy();
  });
  evil.listen(0, '127.0.0.1');
  await once(evil, 'listening');
  evilPort = (evil.address() as AddressInfo).port;
  // A base path, so that escaping `/v1` would also mean escaping `/gw` at the gateway.
  backstop = await startBackstop({ UPSTREAM_URL: `${gateway.url}/gw` });
  port = Number(new URL(backstop.url).port);
});

after(async () => {
  // Checked while it runs, and cleaned up whatever the checks threw: a failed one must not leave
  // a server open and the file running.
  let code: number | null;
  try {
    assert.equal(backstop.child.exitCode, null, 'backstop survived every request');
    assert.equal(await inflight(backstop.adminUrl), 0);
    assert.equal(evilConnections, 0, 'nothing ever connected to the other host');
    const gatewayHost = new URL(gateway.url).host;
    for (const seen of gateway.seen) {
      assert.match(seen.url, /^\/gw\/v1(\/|\?|$)/, `the gateway only ever saw /gw/v1 paths: ${seen.url}`);
      assert.equal(seen.headers.host, gatewayHost, 'the Host the gateway saw is its own');
    }
  } finally {
    code = await backstop.stop();
    await gateway.close();
    evil.close();
  }
  assert.equal(code, 0);
});

/** Sends `head` (request line and headers, CRLF-separated, no final blank line) and `body` raw. */
async function raw(head: string, body = ''): Promise<{ status: number; text: string }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const length = body ? `\r\ncontent-length: ${Buffer.byteLength(body)}` : '';
  // write, not end: Node's HTTP server takes a half-close as the client leaving.
  socket.write(`${head}${length}\r\nconnection: close\r\n\r\n${body}`);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    text += c;
  });
  await once(socket, 'close');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
}

const chatBody = JSON.stringify({ model: 'op-model', messages: [{ role: 'user', content: 'x' }] });
const seenCount = () => gateway.seen.length;

describe('absolute-form targets and Host headers never pick the upstream', () => {
  test('POST http://<other host>/v1/chat/completions goes to UPSTREAM_URL', async () => {
    const before = seenCount();
    const res = await raw(
      `POST http://127.0.0.1:${evilPort}/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${evilPort}\r\ncontent-type: application/json`,
      chatBody,
    );
    assert.equal(res.status, 200);
    assert.equal(gateway.seen.at(-1)?.url, '/gw/v1/chat/completions');
    assert.equal(seenCount(), before + 1);
  });

  test('GET https://evil.example/v1/models goes to UPSTREAM_URL', async () => {
    const res = await raw('GET https://evil.example/v1/models HTTP/1.1\r\nhost: evil.example');
    assert.equal(res.status, 200);
    assert.equal(gateway.seen.at(-1)?.url, '/gw/v1/models');
  });

  test('odd Host headers: another host, userinfo, a bad port, spaces, none, two of them', async () => {
    const hosts = [
      `host: 127.0.0.1:${evilPort}`,
      'host: evil.example',
      `host: evil.example@127.0.0.1:${evilPort}`,
      'host: evil.example:99999',
      'host: a b',
      'host: ',
      `host: 127.0.0.1:${port}\r\nhost: evil.example`,
      'host: [::1]:1',
    ];
    for (const host of hosts) {
      const before = seenCount();
      const res = await raw(
        `POST /v1/chat/completions HTTP/1.1\r\n${host}\r\ncontent-type: application/json`,
        chatBody,
      );
      // Either refused (400 by the HTTP parser or the framework) or forwarded to UPSTREAM_URL.
      assert.ok(
        res.status === 200 || res.status === 400,
        `${JSON.stringify(host)}: ${res.text.slice(0, 200)}`,
      );
      if (res.status === 200) assert.equal(gateway.seen.at(-1)?.url, '/gw/v1/chat/completions');
      else assert.equal(seenCount(), before);
    }
  });

  test('CONNECT and OPTIONS * are not tunnelled or forwarded', async () => {
    const before = seenCount();
    const connectRes = await raw(`CONNECT 127.0.0.1:${evilPort} HTTP/1.1\r\nhost: 127.0.0.1:${evilPort}`);
    assert.notEqual(connectRes.status, 200);
    const options = await raw('OPTIONS * HTTP/1.1\r\nhost: x');
    assert.notEqual(options.status, 200);
    assert.equal(seenCount(), before);
  });
});

describe('no path spelling escapes /v1', () => {
  const tricks = [
    '/v1/../admin',
    '/v1/chat/completions/../../../admin',
    '/v1/models/..',
    '/v1/./models',
    '/v1/%2e%2e/admin',
    '/v1/%2E%2E/admin',
    '/v1/.%2e/admin',
    '/v1/..%2fadmin',
    '/v1%2f..%2fadmin',
    '/v1/%2fadmin',
    '/v1/%5c..%5cadmin',
    '/v1\\..\\admin',
    '/v1/models%00',
    '/v1/%252e%252e/admin',
    '/v1/%25252e%25252e/admin',
    '/v1/..%252fadmin',
    '/v1/models%2500',
    '//evil.example/v1/models',
    '/./v1/models',
    '/x/../v1/chat/completions',
    '/V1/models',
    '/v1;/../admin',
    '/v1/models#frag',
    '/admin',
    '*',
  ];
  for (const target of tricks) {
    test(`${target} is refused and never reaches the gateway`, async () => {
      const before = seenCount();
      const method = target.includes('chat') ? 'POST' : 'GET';
      const res = await raw(
        `${method} ${target} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json`,
        method === 'POST' ? chatBody : '',
      );
      assert.ok(
        res.status === 404 || res.status === 400,
        `${target}: ${res.status} ${res.text.slice(0, 300)}`,
      );
      assert.equal(seenCount(), before, `${target} reached the gateway as ${gateway.seen.at(-1)?.url}`);
    });
  }

  test('a plain encoded character is not a trick: it is forwarded as it came', async () => {
    gateway.script('/gw/v1/models/a%20b', status(200, '{}'));
    const res = await raw('GET /v1/models/a%20b HTTP/1.1\r\nhost: x');
    assert.equal(res.status, 200);
    assert.equal(gateway.seen.at(-1)?.url, '/gw/v1/models/a%20b');
  });

  test('a query string is passed on untouched, and cannot change the path', async () => {
    const res = await raw('GET /v1/models?x=/../../admin HTTP/1.1\r\nhost: x');
    assert.equal(res.status, 200);
    assert.equal(gateway.seen.at(-1)?.url, '/gw/v1/models?x=/../../admin');
  });
});
