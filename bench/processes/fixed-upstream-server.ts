/**
 * The fixed upstream of the overhead comparison (issue 13), run as its own process by
 * fixed-upstream.ts: `POST /v1/completions` and `/v1/chat/completions` answer at once with a
 * 600-byte JSON body naming the requested model, or (`stream: true`) with 40 SSE chunks naming it,
 * then `data: [DONE]`. The simulator at time scale 0 costs far more CPU per request than a relay,
 * so in front of it a relay's share of 2 cores, not the relay, would set the figures.
 *
 * argv[2]: JSON `{ "chunkIntervalMs": N }`. 0 (default): the next chunk goes out on the next turn of
 * the event loop, so each is its own write; N > 0: one chunk every N ms (the slow streams of the
 * 2,000-stream hold). Prints `{"port": N}` once listening on 127.0.0.1.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FIXED_JSON_BYTES, SSE_CHUNKS } from './fixed-upstream.ts';

const { chunkIntervalMs = 0 } = JSON.parse(process.argv[2] ?? '{}') as { chunkIntervalMs?: number };
const CREATED = 1_700_000_000;

/** The JSON answer for `model`, padded to FIXED_JSON_BYTES (longer if the model name is very long). */
function jsonAnswer(model: string, chat: boolean): string {
  const usage = { prompt_tokens: 3, completion_tokens: 15, total_tokens: 18 };
  const build = (text: string) =>
    JSON.stringify(
      chat
        ? {
            id: 'chatcmpl-fixed',
            object: 'chat.completion',
            created: CREATED,
            model,
            choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'length' }],
            usage,
          }
        : {
            id: 'cmpl-fixed',
            object: 'text_completion',
            created: CREATED,
            model,
            choices: [{ index: 0, text, logprobs: null, finish_reason: 'length' }],
            usage,
          },
    );
  const room = FIXED_JSON_BYTES - Buffer.byteLength(build(''));
  return build('lorem ipsum '.repeat(Math.ceil(Math.max(0, room) / 12)).slice(0, Math.max(0, room)));
}

function sseChunk(model: string, chat: boolean, i: number): string {
  const last = i === SSE_CHUNKS - 1;
  const event = chat
    ? {
        id: 'chatcmpl-fixed',
        object: 'chat.completion.chunk',
        created: CREATED,
        model,
        choices: [{ index: 0, delta: { content: ' tok' }, finish_reason: last ? 'length' : null }],
      }
    : {
        id: 'cmpl-fixed',
        object: 'text_completion',
        created: CREATED,
        model,
        choices: [{ index: 0, text: ' tok', logprobs: null, finish_reason: last ? 'length' : null }],
      };
  return `data: ${JSON.stringify(event)}\n\n`;
}

const answers = new Map<string, string>();

function stream(res: ServerResponse, model: string, chat: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const next = () => {
    if (res.destroyed) return;
    if (i === SSE_CHUNKS) {
      res.end('data: [DONE]\n\n');
      return;
    }
    res.write(sseChunk(model, chat, i++));
    if (chunkIntervalMs > 0) timer = setTimeout(next, chunkIntervalMs);
    else immediate = setImmediate(next);
  };
  // A client gone mid-stream: stop writing (after a normal end this clears nothing).
  res.once('close', () => {
    clearTimeout(timer);
    clearImmediate(immediate);
  });
  next();
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const chat = req.url === '/v1/chat/completions';
    if (req.method !== 'POST' || (!chat && req.url !== '/v1/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    let body: { model?: unknown; stream?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad JSON"}}');
      return;
    }
    const model = typeof body.model === 'string' ? body.model : '';
    if (body.stream === true) return stream(res, model, chat);
    const key = `${chat ? 'chat' : 'text'}:${model}`;
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = jsonAnswer(model, chat);
      answers.set(key, answer);
    }
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) })
      .end(answer);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
