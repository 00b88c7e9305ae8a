import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { ConnectionTracker } from './connection-tracker.ts';

// Real sockets on 127.0.0.1: what matters is the order in which node:http emits a socket's and
// its response's 'close', which no fake reproduces.

/**
 * A server whose responses send headers and a first chunk, then stay open (as a stream does)
 * until the client leaves or the test ends them; with its tracker. Closed when the test ends.
 */
async function trackedServer(t: TestContext) {
  const responses: ServerResponse[] = [];
  const sockets: Socket[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first chunk\n');
    responses.push(res);
  });
  const tracker = new ConnectionTracker(server);
  server.on('connection', (socket: Socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  /** A raw keep-alive HTTP/1.1 client that sent one request and read the start of its answer. */
  const openResponse = async () => {
    const accepted = sockets.length;
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(client, 'data');
    assert.equal(sockets.length, accepted + 1);
    return { client, socket: sockets.at(-1) as Socket, response: responses.at(-1) as ServerResponse };
  };
  return { tracker, openResponse };
}

test('forgets a connection whose client left in the middle of a response', async (t) => {
  const { tracker, openResponse } = await trackedServer(t);
  const { client, socket, response } = await openResponse();
  assert.equal(tracker.connections, 1);
  const closed = Promise.all([once(socket, 'close'), once(response, 'close')]);
  // The client leaves mid-response (an SDK's abort, a closed tab): node:http emits the socket's
  // 'close' before the response's. The tracker used to put the socket back in its map when the
  // response closed after it, and nothing took it out again: the soak's heap grew by a socket, a
  // request and a response per departed client (issue 10).
  client.destroy();
  await closed;
  assert.equal(tracker.connections, 0);
});

test('keeps an idle keep-alive connection, and forgets it once it closes', async (t) => {
  const { tracker, openResponse } = await trackedServer(t);
  const { client, socket, response } = await openResponse();
  client.resume();
  const responseClosed = once(response, 'close');
  response.end('done\n');
  await responseClosed;
  // Nothing in flight, still open: the kind of connection a drain ends at once.
  assert.equal(tracker.connections, 1);
  const socketClosed = once(socket, 'close');
  client.end();
  await socketClosed;
  assert.equal(tracker.connections, 0);
});
