import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OTLP/HTTP receiver that keeps nothing: where a traced backstop exports during a run. */
export interface OtlpSink {
  url: string;
  /** Export requests received, and their bytes, so a report can say the spans went out. */
  exports(): { requests: number; bytes: number };
  close(): Promise<void>;
}

/**
 * Starts the sink on 127.0.0.1. It reads each body to the end and answers 200 `{}`, as a
 * Collector does; it runs in the bench process, so its CPU is not counted as backstop's.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: () => ({ requests, bytes }),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
