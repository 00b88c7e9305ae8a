import { performance } from 'node:perf_hooks';
import { Agent, type Dispatcher, request } from 'undici';
import { createSseReader, readChunk, tokenTiming } from '../sse-timing.ts';
import type { Workload } from './types.ts';

/** What one HTTP exchange with a gateway, backstop or nginx measured. */
export interface AttemptResult {
  status: number;
  servedModel: string | undefined;
  /** backstop's `x-backstop-attempts`, when the response carried one. */
  attemptsHeader: number | undefined;
  /** performance.now() when the request was sent. */
  startMs: number;
  endMs: number;
  /** From this attempt's start; first token for streams, first body byte otherwise. */
  ttftMs: number | null;
  tokens: number;
  tpotMs: number | null;
  itlMs: number[];
  error?: string;
}

/**
 * The bench's HTTP/1.1 client: keep-alive, no connection cap (2,000 concurrent streams need 2,000
 * sockets) and HTTP/2 negotiation off (undici 8 enables it by default; nothing here speaks it).
 */
export function createDispatcher(): Agent {
  return new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 10_000, allowH2: false });
}

/** The JSON body of an OpenAI completions or chat request for `model`. */
export function requestBody(model: string, seq: number, w: Workload): string {
  const prompt = `Request ${seq}`;
  const base =
    w.api === 'chat'
      ? { model, messages: [{ role: 'user', content: prompt }], max_tokens: w.maxTokens }
      : { model, prompt, max_tokens: w.maxTokens };
  return JSON.stringify(w.stream ? { ...base, stream: true, stream_options: { include_usage: true } } : base);
}

/**
 * One request to `baseUrl`. With `expectModel` set, a stream whose first event names another
 * model is abandoned at once, as the report's client loop would have liked to do.
 */
export async function sendAttempt(
  dispatcher: Dispatcher,
  baseUrl: string,
  model: string,
  seq: number,
  w: Workload,
  expectModel?: string,
): Promise<AttemptResult> {
  const path = w.api === 'chat' ? '/v1/chat/completions' : '/v1/completions';
  const startMs = performance.now();
  const result: AttemptResult = {
    status: 0,
    servedModel: undefined,
    attemptsHeader: undefined,
    startMs,
    endMs: startMs,
    ttftMs: null,
    tokens: 0,
    tpotMs: null,
    itlMs: [],
  };
  try {
    const res = await request(new URL(path, baseUrl), {
      method: 'POST',
      dispatcher,
      headers: {
        'content-type': 'application/json',
        accept: w.stream ? 'text/event-stream' : 'application/json',
      },
      body: requestBody(model, seq, w),
      signal: AbortSignal.timeout(w.timeoutMs),
    });
    result.status = res.statusCode;
    const header = res.headers['x-backstop-attempts'];
    if (typeof header === 'string' && /^\d+$/.test(header)) result.attemptsHeader = Number(header);
    const isSse = String(res.headers['content-type'] ?? '').includes('text/event-stream');
    if (res.statusCode === 200 && isSse) await readStream(res.body, result, expectModel);
    else await readJson(res.body, result);
  } catch (err) {
    result.error = errorCode(err);
  }
  result.endMs = performance.now();
  return result;
}

async function readJson(body: Dispatcher.ResponseData['body'], result: AttemptResult): Promise<void> {
  const parts: Buffer[] = [];
  for await (const chunk of body) {
    if (result.ttftMs === null) result.ttftMs = performance.now() - result.startMs;
    parts.push(chunk as Buffer);
  }
  let json: { model?: unknown; usage?: { completion_tokens?: unknown } };
  try {
    json = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    // A 503 from an Envoy-style gateway is plain text; only a 200 must be JSON.
    if (result.status === 200) result.error ??= 'body not JSON';
    return;
  }
  if (typeof json.model === 'string') result.servedModel = json.model;
  const tokens = json.usage?.completion_tokens;
  if (typeof tokens === 'number') result.tokens = tokens;
}

async function readStream(
  body: Dispatcher.ResponseData['body'],
  result: AttemptResult,
  expectModel: string | undefined,
): Promise<void> {
  const reader = createSseReader();
  const tokenTimes: number[] = [];
  let usageTokens: number | undefined;
  body.setEncoding('utf8');
  for await (const chunk of body) {
    const t = performance.now();
    for (const event of reader.feed(chunk as string, t)) {
      const info = readChunk(event.data);
      if (!info) continue;
      if (result.servedModel === undefined && info.model !== undefined) {
        result.servedModel = info.model;
        if (expectModel !== undefined && info.model !== expectModel) {
          body.destroy();
          return;
        }
      }
      if (info.text !== '') tokenTimes.push(event.t);
      if (info.completionTokens !== undefined) usageTokens = info.completionTokens;
    }
  }
  const timing = tokenTiming(result.startMs, tokenTimes, usageTokens ?? tokenTimes.length);
  result.ttftMs = timing.ttftMs;
  result.tpotMs = timing.tpotMs;
  result.itlMs = timing.itlMs;
  result.tokens = timing.tokens;
}

/** A short, stable name for a failure: undici's `code`, `timeout`, or the error's name. */
export function errorCode(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    return err.name;
  }
  return String(err);
}
