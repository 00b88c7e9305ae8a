import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One upstream answer: gets the request and its parsed JSON body (or undefined). */
export type Step = (
  req: IncomingMessage,
  res: ServerResponse,
  body: Record<string, unknown> | undefined,
) => void;

/** What the upstream saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Resolves when the client (backstop) closed this request's connection or the response ended. */
  closed: Promise<'finished' | 'aborted'>;
}

/**
 * A hand-made hostile gateway for socket-level tests. Requests are routed by the `model` of their
 * JSON body (or by path for bodiless ones) to a script: step n answers the n-th request, and the
 * last step repeats. Every request is recorded, including when its connection closed.
 */
export class ScriptedUpstream {
  readonly seen: Seen[] = [];
  #scripts = new Map<string, Step[]>();
  #counts = new Map<string, number>();
  #server: Server;
  #sockets = new Set<Socket>();
  #accepted = 0;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#accepted++;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Listens on `port` (default: an ephemeral one), e.g. a gateway's old port when it comes back. */
  async listen(port = 0): Promise<this> {
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** Sets the script for requests whose model (or path, for bodiless requests) is `key`. */
  script(key: string, ...steps: Step[]): void {
    this.#scripts.set(key, steps);
    this.#counts.set(key, 0);
  }

  /** Connections accepted so far. */
  get connectionsAccepted(): number {
    return this.#accepted;
  }

  /** Requests received for `key` so far. */
  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | undefined;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      } catch {
        body = undefined;
      }
      const closed = new Promise<'finished' | 'aborted'>((resolve) => {
        res.on('close', () => resolve(res.writableFinished ? 'finished' : 'aborted'));
      });
      this.seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: text,
        closed,
      });
      const key = typeof body?.model === 'string' ? body.model : (req.url ?? '');
      const steps = this.#scripts.get(key);
      const n = this.#counts.get(key) ?? 0;
      this.#counts.set(key, n + 1);
      if (steps === undefined || steps.length === 0) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`no script for ${key}`);
        return;
      }
      (steps[Math.min(n, steps.length - 1)] as Step)(req, res, body);
    });
  }
}

// Answers in the shapes a Pattern 2 gateway really produces.

/** vLLM's JSON completion from `model`. */
export const json =
  (model?: string, content = 'hello'): Step =>
  (_req, res, body) => {
    const answer = JSON.stringify({
      id: 'cmpl-1',
      object: 'chat.completion',
      created: 1,
      model: model ?? body?.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
  };

/** An SSE stream of `chunks` (already framed event text), written one write per element. */
export const sse =
  (chunks: string[], opts: { status?: number; delayMs?: number } = {}): Step =>
  (_req, res) => {
    res.writeHead(opts.status ?? 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      if (i >= chunks.length) {
        res.end();
        return;
      }
      res.write(chunks[i++]);
      if (opts.delayMs) setTimeout(next, opts.delayMs);
      else setImmediate(next);
    };
    next();
  };

/** A chat chunk event from `model` with `content`. */
export const chunk = (model: string, content: string): string =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

export const DONE = 'data: [DONE]\n\n';

/** vLLM's 404 for a model its backend does not serve, nested (current) or flat (older) shape. */
export const notFound =
  (shape: 'nested' | 'flat' = 'nested'): Step =>
  (_req, res, body) => {
    const message = `The model \`${String(body?.model)}\` does not exist.`;
    const answer =
      shape === 'nested'
        ? { error: { message, type: 'NotFoundError', param: 'model', code: 404 } }
        : { object: 'error', message, type: 'NotFoundError', param: null, code: 404 };
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  };

/** The EPP's answer when no backend is visible. */
export const eppUnavailable: Step = (_req, res) => {
  res
    .writeHead(503, { 'content-type': 'text/plain' })
    .end('inference error: ServiceUnavailable - failed to find candidate pods for serving the request');
};

/** A plain status with a JSON or text body. */
export const status =
  (code: number, body = '', headers: Record<string, string> = {}): Step =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers }).end(body);
  };

/** Destroys the connection without answering. */
export const reset: Step = (req) => {
  req.socket.destroy();
};

/** Never answers. */
export const hang: Step = () => {};

/** A step that holds its request until the test releases it with another step. */
export interface Gate {
  step: Step;
  /** Resolves when the held request arrives. */
  arrived: Promise<void>;
  /** Answers the held request with `step`. */
  release(step: Step): void;
}

/** Holds the request it answers until `release(step)`: an attempt kept in flight on purpose. */
export function gate(): Gate {
  let arrive: () => void = () => {};
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  let held: Parameters<Step> | undefined;
  let answer: Step | undefined;
  return {
    step: (req, res, body) => {
      held = [req, res, body];
      arrive();
      if (answer) answer(req, res, body);
    },
    arrived,
    release(step) {
      answer = step;
      if (held) step(...held);
    },
  };
}
