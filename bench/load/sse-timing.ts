/**
 * Token timing from a Server-Sent Events stream, measured at the client.
 *
 * The report's script reported TPOT 0.0 ms because it timed non-streaming responses, where every token
 * arrives in one body. Here each SSE event is stamped with the arrival time of the network chunk
 * that completed it, and:
 *   TTFT = first token event - request start
 *   TPOT = (last token event - first token event) / (tokens - 1)   (MLPerf's definition)
 *   ITL  = gaps between consecutive token events
 * `tokens` is the server's `usage.completion_tokens` when it reports one (one event may carry more
 * than one token), else the number of events that carried text.
 */

/** One SSE `data` payload and the time (ms, caller's clock) its last byte arrived. */
export interface TimedEvent {
  data: string;
  t: number;
}

/**
 * Incremental SSE reader (WHATWG "event stream" framing, data lines only: the OpenAI streaming
 * API sends nothing else). Accepts LF, CRLF and CR line endings.
 */
export function createSseReader(): { feed(chunk: string, t: number): TimedEvent[] } {
  let buffer = '';
  let data: string[] = [];
  return {
    feed(chunk: string, t: number): TimedEvent[] {
      buffer += chunk;
      const out: TimedEvent[] = [];
      for (;;) {
        const m = /\r\n|\n|\r/.exec(buffer);
        // A lone trailing CR may be the first half of CRLF: wait for the next chunk.
        if (!m || (m[0] === '\r' && m.index === buffer.length - 1)) break;
        const line = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        if (line === '') {
          if (data.length > 0) out.push({ data: data.join('\n'), t });
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line[5] === ' ' ? 6 : 5));
        }
      }
      return out;
    },
  };
}

/** What one OpenAI-style stream chunk says: the serving model, any text, any usage. */
export interface ChunkInfo {
  model: string | undefined;
  text: string;
  completionTokens: number | undefined;
}

/** Reads a completions (`choices[0].text`) or chat (`choices[0].delta.content`) chunk. */
export function readChunk(data: string): ChunkInfo | undefined {
  if (data === '[DONE]') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as {
    model?: unknown;
    choices?: Array<{ text?: unknown; delta?: { content?: unknown } }>;
    usage?: { completion_tokens?: unknown } | null;
  };
  const choice = Array.isArray(b.choices) ? b.choices[0] : undefined;
  const text = typeof choice?.text === 'string' ? choice.text : choice?.delta?.content;
  const tokens = b.usage?.completion_tokens;
  return {
    model: typeof b.model === 'string' ? b.model : undefined,
    text: typeof text === 'string' ? text : '',
    completionTokens: typeof tokens === 'number' ? tokens : undefined,
  };
}

/** TTFT, TPOT and inter-token latencies of one stream. */
export interface TokenTiming {
  ttftMs: number | null;
  tpotMs: number | null;
  itlMs: number[];
  tokens: number;
}

/**
 * Timing of one stream from its request start and the arrival times of the events that carried
 * text. `tokens` defaults to the number of such events; pass the server's usage count when known.
 * TPOT is null below two tokens: one token has no "per output token after the first".
 */
export function tokenTiming(
  startMs: number,
  tokenTimes: readonly number[],
  tokens = tokenTimes.length,
): TokenTiming {
  const first = tokenTimes[0];
  const last = tokenTimes[tokenTimes.length - 1];
  if (first === undefined || last === undefined) return { ttftMs: null, tpotMs: null, itlMs: [], tokens };
  const itlMs: number[] = [];
  for (let i = 1; i < tokenTimes.length; i++)
    itlMs.push((tokenTimes[i] as number) - (tokenTimes[i - 1] as number));
  return {
    ttftMs: first - startMs,
    tpotMs: tokens >= 2 ? (last - first) / (tokens - 1) : null,
    itlMs,
    tokens,
  };
}
