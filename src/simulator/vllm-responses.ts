import type { Endpoint } from './request.ts';

/**
 * Success bodies in vLLM's OpenAI-compatible shapes, written by hand (template strings, not
 * JSON.stringify of an object) for two reasons: the simulator must not share a serializer or parser
 * with the proxy it tests, and the constant parts cost nothing per request in benchmarks.
 */

/** Everything a success body needs. */
export interface Generation {
  endpoint: Endpoint;
  id: string;
  /** Unix seconds. */
  created: number;
  /** The model that generated (on a misroute with wrong-model-200, not the requested one). */
  model: string;
  /** Generated token texts; they concatenate to the content. */
  tokens: readonly string[];
  promptTokens: number;
}

const quoted = new Map<string, string>();
/** JSON string literal of a model name, cached: a handful of names, millions of uses. */
function q(model: string): string {
  let literal = quoted.get(model);
  if (literal === undefined) {
    literal = JSON.stringify(model);
    if (quoted.size < 1000) quoted.set(model, literal);
  }
  return literal;
}

function usage(g: Generation): string {
  const completion = g.tokens.length;
  return `{"prompt_tokens":${g.promptTokens},"total_tokens":${g.promptTokens + completion},"completion_tokens":${completion}}`;
}

/** The non-streaming body: `chat.completion` or `text_completion`, finish_reason "length". */
export function completionJson(g: Generation): string {
  const content = JSON.stringify(g.tokens.join(''));
  const choice =
    g.endpoint === 'chat'
      ? `{"index":0,"message":{"role":"assistant","content":${content},"tool_calls":[]},"logprobs":null,"finish_reason":"length","stop_reason":null}`
      : `{"index":0,"text":${content},"logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_logprobs":null}`;
  const object = g.endpoint === 'chat' ? 'chat.completion' : 'text_completion';
  return `{"id":"${g.id}","object":"${object}","created":${g.created},"model":${q(g.model)},"choices":[${choice}],"usage":${usage(g)},"prompt_logprobs":null}`;
}

/**
 * The head and tail of a non-streaming body around the content string, for bodies whose content is
 * written separately (the oversized-JSON fault pads it to megabytes without building one string).
 */
export function completionJsonAround(g: Generation): { head: string; tail: string } {
  // A NUL marker token plus empty ones keeps completion_tokens right while the content is one marker.
  const marker = g.tokens.map((_, i) => (i === 0 ? '\u0000' : ''));
  const body = completionJson({ ...g, tokens: marker.length > 0 ? marker : ['\u0000'] });
  const at = body.indexOf('\\u0000');
  return { head: body.slice(0, at), tail: body.slice(at + 6) };
}

/** One SSE event: `data: <payload>` and a blank line, with the given line ending. */
export function sseEvent(payload: string, eol = '\n'): string {
  return `data: ${payload}${eol}${eol}`;
}

function chunk(g: Generation, choice: string): string {
  const object = g.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  return `{"id":"${g.id}","object":"${object}","created":${g.created},"model":${q(g.model)},"choices":[${choice}]}`;
}

function tokenChoice(g: Generation, text: string, last: boolean): string {
  const finish = last ? '"length"' : 'null';
  return g.endpoint === 'chat'
    ? `{"index":0,"delta":{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":${finish}}`
    : `{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":${finish},"stop_reason":null}`;
}

/** The first chat chunk, as vLLM sends it: the assistant role and empty content. */
export function roleChunk(g: Generation): string {
  return chunk(
    g,
    '{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}',
  );
}

/** The chunk carrying token `index`; the last one carries finish_reason "length". */
export function tokenChunk(g: Generation, index: number): string {
  return chunk(g, tokenChoice(g, g.tokens[index] ?? '', index === g.tokens.length - 1));
}

/** The final usage chunk sent when `stream_options.include_usage` is true: empty choices. */
export function usageChunk(g: Generation): string {
  const object = g.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  return `{"id":"${g.id}","object":"${object}","created":${g.created},"model":${q(g.model)},"choices":[],"usage":${usage(g)}}`;
}

/** The stream terminator. */
export const DONE_PAYLOAD = '[DONE]';

/**
 * The stream as frames: what is written at each generation step. Frame 0 (at TTFT) holds the role
 * chunk (chat) and the first token; frame i holds token i; the last frame also carries the usage
 * chunk (if asked for) and `data: [DONE]`.
 */
export function sseFrames(g: Generation, includeUsage: boolean, eol = '\n'): string[] {
  const frames: string[] = [];
  for (let i = 0; i < g.tokens.length; i++) frames.push(sseEvent(tokenChunk(g, i), eol));
  if (frames.length === 0) frames.push('');
  if (g.endpoint === 'chat') frames[0] = sseEvent(roleChunk(g), eol) + frames[0];
  let tail = includeUsage ? sseEvent(usageChunk(g), eol) : '';
  tail += sseEvent(DONE_PAYLOAD, eol);
  frames[frames.length - 1] += tail;
  return frames;
}

/** vLLM's `GET /v1/models` list. */
export function modelsList(
  models: readonly { name: string; contextLength: number }[],
  created: number,
): string {
  const data = models.map(
    (m) =>
      `{"id":${q(m.name)},"object":"model","created":${created},"owned_by":"vllm","root":${q(m.name)},"parent":null,"max_model_len":${m.contextLength}}`,
  );
  return `{"object":"list","data":[${data.join(',')}]}`;
}
