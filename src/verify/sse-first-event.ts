import { createParser, type EventSourceParser } from 'eventsource-parser';
import type { AttemptResult, Verdict } from './attempt-result.ts';
import type { ModelMatcher } from './model-matcher.ts';
import { quotesModel } from './not-found-body.ts';

const OK: Verdict = { result: 'ok' };

/**
 * Finds the first SSE event that carries data in a stream fed chunk by chunk, and judges it.
 * Comment lines (`: ping`), events split across chunks and `\r\n` line ends are the parser's job
 * (eventsource-parser follows the WHATWG algorithm). One instance per attempt.
 */
export class SseFirstEventPeek {
  readonly #decoder = new TextDecoder();
  readonly #parser: EventSourceParser;
  readonly #requested: string;
  readonly #matches: ModelMatcher;
  #verdict: Verdict | undefined;

  constructor(requested: string, matches: ModelMatcher) {
    this.#requested = requested;
    this.#matches = matches;
    this.#parser = createParser({
      onEvent: (event) => {
        if (this.#verdict === undefined && event.data !== '') this.#verdict = this.#judge(event.data);
      },
    });
  }

  /** Feeds one chunk; returns the verdict once the first data event is complete. */
  feed(chunk: Uint8Array): Verdict | undefined {
    if (this.#verdict === undefined) this.#parser.feed(this.#decoder.decode(chunk, { stream: true }));
    return this.#verdict;
  }

  #judge(data: string): Verdict {
    if (data === '[DONE]') return { result: 'invalid_response', detail: 'stream ended before any data' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return { result: 'invalid_response', detail: 'first event is not JSON' };
    }
    if (parsed === null || typeof parsed !== 'object') {
      return { result: 'invalid_response', detail: 'first event is not a JSON object' };
    }
    const { model, error } = parsed as { model?: unknown; error?: unknown };
    if (error !== undefined && error !== null) return { result: inBandErrorResult(error, this.#requested) };
    if (this.#matches(this.#requested, model)) return OK;
    if (typeof model !== 'string') return { result: 'invalid_response', detail: 'first event has no model' };
    return { result: 'model_mismatch', servedModel: model };
  }
}

/**
 * vLLM reports failures after a 200 as `data: {"error":{"message","type","code"}}`, read as the
 * same error sent as a status would be (classifyStatus, namesRequestedModel): a not-found naming
 * the requested model is a routing miss, any other not-found and any other 4xx are the client's
 * problem (passed through as they are, issue 10), 429 is rate limiting, anything else a server
 * failure worth another attempt.
 */
function inBandErrorResult(error: unknown, requested: string): AttemptResult {
  const { code, type, message } = (typeof error === 'object' ? error : {}) as {
    code?: unknown;
    type?: unknown;
    message?: unknown;
  };
  const status = typeof code === 'number' ? code : Number(code);
  if (status === 404 || type === 'NotFoundError') {
    return typeof message === 'string' && quotesModel(message, requested)
      ? 'model_not_found'
      : 'client_error';
  }
  if (status === 429) return 'rate_limited';
  if (status >= 400 && status < 500) return 'client_error';
  return 'upstream_5xx';
}
