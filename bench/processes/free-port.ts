import { once } from 'node:events';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1, bound and released: connections to it are refused until someone listens (nginx cannot take port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  // Released for real before anyone connects to it (tests rely on it refusing).
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
