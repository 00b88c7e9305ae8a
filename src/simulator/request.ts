/** Which OpenAI endpoint a request came in on. */
export type Endpoint = 'chat' | 'completion';

/** The parts of a completion request the simulator acts on. */
export interface CompletionRequest {
  endpoint: Endpoint;
  model: string;
  /** The text the model sees: the prompt, or the chat messages' text contents joined with "\n". */
  prompt: string;
  maxTokens: number;
  stream: boolean;
  includeUsage: boolean;
}

/** A parsed request, or the message of the 400 vLLM would answer. */
export type ParseResult = { ok: true; request: CompletionRequest } | { ok: false; message: string };

// vLLM's default when the request has no max_tokens (SamplingParams.max_tokens = 16).
const DEFAULT_MAX_TOKENS = 16;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Chat content is a string or, in the OpenAI format, a list of parts of which we read the text ones. */
function messageText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return content == null ? '' : undefined;
  let text = '';
  for (const part of content) {
    if (!isObject(part)) return undefined;
    if (part.type === 'text' && typeof part.text === 'string') text += part.text;
  }
  return text;
}

function promptOf(endpoint: Endpoint, body: Record<string, unknown>): string | { error: string } {
  if (endpoint === 'completion') {
    const prompt = body.prompt;
    if (typeof prompt === 'string') return prompt;
    // A batch of prompts is valid OpenAI, but the simulator answers one choice; a batch of one is fine.
    if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
    return { error: 'prompt: Input should be a valid string (the simulator serves a single prompt)' };
  }
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    return { error: 'messages: Field required (a non-empty list of messages)' };
  }
  const texts: string[] = [];
  for (const message of messages) {
    const text = isObject(message) ? messageText(message.content) : undefined;
    if (text === undefined) return { error: 'messages: each message needs a string or a list of text parts' };
    texts.push(text);
  }
  return texts.join('\n');
}

function maxTokensOf(endpoint: Endpoint, body: Record<string, unknown>): number | { error: string } {
  // The chat API renamed max_tokens to max_completion_tokens; vLLM accepts both.
  const value = endpoint === 'chat' ? (body.max_completion_tokens ?? body.max_tokens) : body.max_tokens;
  if (value === undefined || value === null) return DEFAULT_MAX_TOKENS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    return { error: `max_tokens must be at least 1, got ${JSON.stringify(value)}.` };
  }
  return value;
}

/** Parses the body of `POST /v1/chat/completions` or `POST /v1/completions` the way vLLM validates it. */
export function parseCompletionRequest(endpoint: Endpoint, raw: string): ParseResult {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (error) {
    return { ok: false, message: `JSON decode error: ${(error as Error).message}` };
  }
  if (!isObject(body)) return { ok: false, message: 'Input should be a valid dictionary or object' };
  if (typeof body.model !== 'string' || body.model === '')
    return { ok: false, message: 'model: Field required' };
  const prompt = promptOf(endpoint, body);
  if (typeof prompt !== 'string') return { ok: false, message: prompt.error };
  const maxTokens = maxTokensOf(endpoint, body);
  if (typeof maxTokens !== 'number') return { ok: false, message: maxTokens.error };
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return { ok: false, message: 'stream: Input should be a valid boolean' };
  }
  const stream = body.stream === true;
  const options = body.stream_options;
  const includeUsage = stream && isObject(options) && options.include_usage === true;
  return { ok: true, request: { endpoint, model: body.model, prompt, maxTokens, stream, includeUsage } };
}
