import { Agent, type IncomingHttpHeaders, request } from 'node:http';

/** A streamed chat completion as the client saw it. */
export interface StreamResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** The `delta.content` of every chunk, joined. */
  content: string;
  /** Whether the last event was `data: [DONE]`. */
  done: boolean;
  /** The `error` objects of in-band error events. */
  errors: { message?: string; type?: string; code?: unknown }[];
  /** 'end' when the body ended normally, 'aborted' when the connection broke first. */
  ending: 'end' | 'aborted';
  raw: string;
}

/** Parses OpenAI SSE text: content deltas, `[DONE]`, error events. */
export function parseSse(raw: string): Pick<StreamResult, 'content' | 'done' | 'errors'> {
  let content = '';
  let done = false;
  const errors: StreamResult['errors'] = [];
  // The last piece is an event cut short (or '' when the text ends with a blank line): skipped.
  for (const event of raw.split(/\r?\n\r?\n/).slice(0, -1)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data === '') continue;
    done = data === '[DONE]';
    if (done) continue;
    const parsed = JSON.parse(data) as {
      error?: StreamResult['errors'][number];
      choices?: { delta?: { content?: string } }[];
    };
    if (parsed.error) errors.push(parsed.error);
    content += parsed.choices?.[0]?.delta?.content ?? '';
  }
  return { content, done, errors };
}

/** Handles on a streamed request in flight. */
export interface StreamHandle {
  /** Resolves when response headers arrived. */
  headers: Promise<void>;
  result: Promise<StreamResult>;
  /** Closes the connection (the client going away). */
  abort(): void;
}

/** Starts a streamed chat request over node:http (on `agent`, or a connection of its own). */
export function streamChat(
  baseUrl: string,
  body: Record<string, unknown>,
  agent: Agent | false = false,
): StreamHandle {
  let gotHeaders: () => void = () => {};
  let failed: (e: Error) => void = () => {};
  const headers = new Promise<void>((resolve, reject) => {
    gotHeaders = resolve;
    failed = reject;
  });
  let abort: () => void = () => {};
  const result = new Promise<StreamResult>((resolve, reject) => {
    const req = request(
      `${baseUrl}/v1/chat/completions`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        gotHeaders();
        let raw = '';
        let ending: StreamResult['ending'] = 'end';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          raw += c;
        });
        res.on('aborted', () => {
          ending = 'aborted';
        });
        res.on('error', () => {
          ending = 'aborted';
        });
        res.on('close', () => {
          if (!res.complete) ending = 'aborted';
          resolve({ status: res.statusCode ?? 0, headers: res.headers, ending, raw, ...parseSse(raw) });
        });
      },
    );
    abort = () => req.destroy();
    req.on('error', (e) => {
      failed(e);
      reject(e);
    });
    req.end(JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hi' }], ...body }));
  });
  headers.catch(() => {});
  return { headers, result, abort: () => abort() };
}

export { Agent };
