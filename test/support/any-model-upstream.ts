import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A gateway that serves every model instantly: what a load test of backstop's own code needs. */
export interface AnyModelUpstream {
  url: string;
  /** Requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Starts an upstream on 127.0.0.1 that answers every completion request with vLLM's JSON shape
 * from the model the request named (so backstop's model check passes for any name), and
 * `GET /v1/models` with an empty list. Keep-alive; no delays, no timers.
 */
export async function startAnyModelUpstream(): Promise<AnyModelUpstream> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests++;
      let model: unknown;
      try {
        model = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model?: unknown }).model;
      } catch {
        model = undefined;
      }
      const body =
        typeof model === 'string'
          ? JSON.stringify({
              id: `cmpl-${requests}`,
              object: 'text_completion',
              created: 1,
              model,
              choices: [{ index: 0, text: 'ok', logprobs: null, finish_reason: 'stop' }],
              usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
            })
          : JSON.stringify({ object: 'list', data: [] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    async close() {
      // backstop's pool keeps its connections open: close them, or close() waits for their timeout.
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
