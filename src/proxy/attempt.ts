import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { parseRetryAfter } from '../resilience/index.ts';
import {
  type AttemptResult,
  classifyStatus,
  type ModelMatcher,
  namesRequestedModel,
  SseFirstEventPeek,
  verifyJsonBody,
} from '../verify/index.ts';
import { readBounded } from './bounded-body.ts';
import { peekFirstEvent } from './sse-peek.ts';
import { classifyUpstreamError, describeUpstreamError } from './upstream-error.ts';

/** What one attempt needs; built once per request and reused across its attempts. */
export interface AttemptSpec {
  dispatcher: Dispatcher;
  method: Dispatcher.HttpMethod;
  path: string;
  headers: Record<string, string | string[]>;
  /** The exact request bytes, resent unchanged on every attempt; `null` for bodiless requests. */
  body: Buffer | null;
  /** The requested model; verification is off when it is `undefined` (pass-through routes). */
  model: string | undefined;
  matches: ModelMatcher;
  attemptTimeoutMs: number;
  maxResponseBytes: number;
  /** Aborted when the client goes away. */
  clientSignal: AbortSignal;
}

/** How an attempt ended, and what the client gets if the loop commits it. */
export interface AttemptOutcome {
  result: AttemptResult;
  /** Upstream status, 0 when no response arrived. */
  status: number;
  headers: IncomingHttpHeaders | undefined;
  /** Body bytes already read (a whole JSON body, or an SSE stream up to its first event). */
  held: Buffer[] | undefined;
  /** The unread rest of the body, paused, for the client; undefined when fully read or dropped. */
  rest: Readable | undefined;
  /** Whether `rest` is an SSE stream of a model that passed verification. */
  sse: boolean;
  retryAfterMs: number | undefined;
  detail: string | undefined;
  /** The model a wrong-model answer named (`model_mismatch`), for the misroute diagnosis. */
  servedModel: string | undefined;
  /** The client went away during the attempt. */
  clientGone: boolean;
}

const NOT_FOUND_BODY_LIMIT = 64 * 1024;

/**
 * Sends the request upstream once and classifies the answer: reads and verifies a 2xx JSON body,
 * or an SSE stream up to its first data event, before anything reaches the client. The attempt
 * timeout covers the wait for a pooled connection, the response headers, and then the whole JSON
 * body or the first SSE event; `timeoutMs` below ATTEMPT_TIMEOUT_MS is the time left before the
 * request's deadline. A failed attempt's body is always consumed or destroyed (an unconsumed
 * undici body pins its socket).
 */
export async function runAttempt(
  spec: AttemptSpec,
  timeoutMs = spec.attemptTimeoutMs,
): Promise<AttemptOutcome> {
  const outcome: AttemptOutcome = {
    result: 'ok',
    status: 0,
    headers: undefined,
    held: undefined,
    rest: undefined,
    sse: false,
    retryAfterMs: undefined,
    detail: undefined,
    servedModel: undefined,
    clientGone: false,
  };
  // An abort listener added to an already aborted signal never fires.
  if (spec.clientSignal.aborted) {
    outcome.clientGone = true;
    return outcome;
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onClientGone = () => controller.abort();
  spec.clientSignal.addEventListener('abort', onClientGone);
  try {
    const response = await spec.dispatcher.request({
      method: spec.method,
      path: spec.path,
      headers: spec.headers,
      body: spec.body,
      signal: controller.signal,
    });
    outcome.status = response.statusCode;
    outcome.headers = response.headers;
    await judge(spec, response, outcome);
  } catch (error) {
    outcome.held = undefined;
    outcome.rest = undefined;
    outcome.sse = false;
    outcome.servedModel = undefined;
    if (spec.clientSignal.aborted) {
      outcome.clientGone = true;
    } else if (timedOut) {
      outcome.result = 'timeout';
      const limit =
        timeoutMs < spec.attemptTimeoutMs ? 'the retry deadline (RETRY_DEADLINE_MS)' : 'ATTEMPT_TIMEOUT_MS';
      outcome.detail = `no ${outcome.status === 0 ? 'response headers' : 'complete answer or first event'} within ${limit}`;
    } else {
      outcome.result = classifyUpstreamError(error);
      outcome.detail = describeUpstreamError(error);
    }
  } finally {
    clearTimeout(timer);
    spec.clientSignal.removeEventListener('abort', onClientGone);
  }
  // Whoever ends up owning the rest of the body may destroy it (client gone, drain expired);
  // undici then emits an abort error, which must never be an unhandled 'error' event.
  outcome.rest?.on('error', ignore);
  return outcome;
}

function ignore(): void {}

async function judge(
  spec: AttemptSpec,
  response: Dispatcher.ResponseData,
  outcome: AttemptOutcome,
): Promise<void> {
  const { body, statusCode } = response;
  const model = spec.model;
  if (model === undefined) {
    // Pass-through routes: nothing to verify; the loop decides between retry and delivery.
    const status = classifyStatus(statusCode);
    outcome.result = status === 'verify' ? 'ok' : status === 'not_found' ? 'client_error' : status;
    outcome.rest = body;
    return;
  }
  const status = classifyStatus(statusCode);
  if (status === 'verify') {
    const type = contentType(response.headers);
    if (type === 'text/event-stream') {
      const peeked = await peekFirstEvent(
        body,
        new SseFirstEventPeek(model, spec.matches),
        spec.maxResponseBytes,
      );
      outcome.result = peeked.verdict.result;
      outcome.detail = detailOf(peeked.verdict);
      outcome.servedModel = peeked.verdict.servedModel;
      if (outcome.result === 'ok' || outcome.result === 'client_error') {
        outcome.held = peeked.held;
        outcome.rest = body;
        outcome.sse = outcome.result === 'ok';
      } else {
        body.destroy();
      }
      return;
    }
    if (type !== 'application/json') {
      outcome.result = 'invalid_response';
      outcome.detail = `unexpected content-type ${type || '(none)'}`;
      discard(body);
      return;
    }
    const bytes = await readBounded(body, spec.maxResponseBytes);
    if (bytes === undefined) {
      outcome.result = 'invalid_response';
      outcome.detail = 'JSON body exceeds MAX_RESPONSE_BYTES';
      return;
    }
    const verdict = verifyJsonBody(bytes, model, spec.matches);
    outcome.result = verdict.result;
    outcome.detail = detailOf(verdict);
    outcome.servedModel = verdict.servedModel;
    if (verdict.result === 'ok') outcome.held = [bytes];
    return;
  }
  if (status === 'not_found') {
    const bytes = await readBounded(body, NOT_FOUND_BODY_LIMIT);
    if (bytes !== undefined && namesRequestedModel(bytes, model)) {
      outcome.result = 'model_not_found';
      return;
    }
    outcome.result = 'client_error';
    outcome.held = bytes === undefined ? [] : [bytes];
    return;
  }
  outcome.result = status;
  if (status === 'client_error') {
    outcome.rest = body;
    return;
  }
  outcome.detail = `status ${statusCode}`;
  if (status === 'rate_limited') {
    outcome.retryAfterMs = parseRetryAfter(response.headers['retry-after'], Date.now());
    // Kept: a Retry-After longer than the time left sends this 429 to the client as it came.
    const bytes = await readBounded(body, NOT_FOUND_BODY_LIMIT);
    outcome.held = bytes === undefined ? [] : [bytes];
    return;
  }
  discard(body);
}

function contentType(headers: IncomingHttpHeaders): string {
  const value = headers['content-type'];
  if (value === undefined) return '';
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

function detailOf(verdict: { servedModel?: string; detail?: string }): string | undefined {
  return verdict.servedModel !== undefined ? `answered by ${verdict.servedModel}` : verdict.detail;
}

/** Frees an outcome's unread body when the loop will not deliver it. */
export function discardOutcome(outcome: AttemptOutcome): void {
  if (outcome.rest !== undefined) discard(outcome.rest);
  outcome.rest = undefined;
}

/** Reads a small error body to the end so its keep-alive socket can be reused; big ones are dropped. */
function discard(body: Readable & { dump?: (opts?: { limit: number }) => Promise<void> }): void {
  if (body.dump) body.dump({ limit: NOT_FOUND_BODY_LIMIT }).catch(() => {});
  else body.destroy();
}
