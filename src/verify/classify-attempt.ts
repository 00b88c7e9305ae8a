import type { IncomingHttpHeaders } from 'node:http';
import { parseRetryAfter } from '../resilience/index.ts';
import type { AttemptResult, Verdict } from './attempt-result.ts';
import type { ModelMatcher } from './model-matcher.ts';
import { namesRequestedModel, quotesModel } from './not-found-body.ts';

/** What the answer must be: the requested model (`undefined` on pass-through routes) and its matcher. */
export interface Expectation {
  readonly model: string | undefined;
  readonly matches: ModelMatcher;
}

/** Nothing of the body read yet: the classifier decides on the status and headers alone, or asks. */
export interface NothingRead {
  readonly kind: 'nothing';
}

/** A body that was not read to its end, and why. */
export interface Unread {
  readonly kind: 'too_large' | 'stream_ended' | 'no_event';
}

export const NOTHING_READ: NothingRead = Object.freeze({ kind: 'nothing' });
/** A JSON body passed MAX_RESPONSE_BYTES, or an error body its bound; it was dropped. */
export const TOO_LARGE: Unread = Object.freeze({ kind: 'too_large' });
/** An SSE stream ended before any event carried data. */
export const STREAM_ENDED: Unread = Object.freeze({ kind: 'stream_ended' });
/** An SSE stream sent MAX_RESPONSE_BYTES without an event that carries data. */
export const NO_EVENT: Unread = Object.freeze({ kind: 'no_event' });

/** The attempt failed below HTTP: the client's error, or the attempt's timer fired. */
export interface TransportFailure {
  readonly kind: 'failed';
  readonly error: unknown;
  /** The attempt's timer aborted it. */
  readonly timedOut: boolean;
  /** The timer was the request's deadline (RETRY_DEADLINE_MS), shorter than ATTEMPT_TIMEOUT_MS. */
  readonly capped: boolean;
}

/**
 * What an attempt saw: a whole body (`Buffer`: a 2xx JSON body, or the bounded body of a 404 or
 * 429), the data of a 2xx stream's first event (`string`), a body not read (`Unread`), or a
 * failure below HTTP.
 */
export type Seen = Buffer | string | Unread | TransportFailure;

/** The bytes the classifier needs before it can decide, for the caller to read. */
export type BodyToRead = 'json_body' | 'first_event' | 'error_body';

const OK: Verdict = Object.freeze({ result: 'ok' });
const CLIENT_ERROR: Verdict = Object.freeze({ result: 'client_error' });
const NOT_FOUND: Verdict = Object.freeze({ result: 'model_not_found' });
const RATE_LIMITED: Verdict = Object.freeze({ result: 'rate_limited' });
const UPSTREAM_5XX: Verdict = Object.freeze({ result: 'upstream_5xx' });

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/**
 * The verdict on one attempt: the one place that decides what counts as which `AttemptResult`
 * (STYLE.md habit 2). Pure: status, headers, what was read and the wall clock's reading in; a
 * verdict out. When the status and headers alone cannot decide, it names the bytes it needs
 * (`BodyToRead`); the caller reads them and asks again with them (`seen`). `status` is 0 when no
 * response arrived; `nowMs` (epoch ms) turns an HTTP-date `Retry-After` into a delay.
 *
 * - 2xx: the answer's `model` decides (the JSON body's top level, or the first SSE event's).
 * - 404: a routing miss when its body quotes the requested model, else a real client error.
 * - 429: rate limited, with its `Retry-After`; 500/502/503/504 (vLLM, the EPP's
 *   `inference error: ServiceUnavailable`, Envoy's `no healthy upstream`): an upstream failure.
 *   Every other status is the client's to see.
 * - Pass-through routes (no model): the status alone.
 * - Failures: by undici's and Node's stable `code`, never by message (messages change between
 *   undici majors); what is not a timeout failed the connection before the answer was complete.
 */
export function classifyAttempt(
  expect: Expectation,
  status: number,
  headers: IncomingHttpHeaders | undefined,
  seen: NothingRead,
  nowMs: number,
): Verdict | BodyToRead;
export function classifyAttempt(
  expect: Expectation,
  status: number,
  headers: IncomingHttpHeaders | undefined,
  seen: Seen,
  nowMs: number,
): Verdict;
export function classifyAttempt(
  expect: Expectation,
  status: number,
  headers: IncomingHttpHeaders | undefined,
  seen: Seen | NothingRead,
  nowMs: number,
): Verdict | BodyToRead {
  if (isFailure(seen)) return failureVerdict(seen, status);
  const model = expect.model;
  const ok = status >= 200 && status < 300;
  if (model === undefined) {
    // Pass-through: nothing to verify; the loop decides between retry and delivery.
    if (ok || status === 404) return ok ? OK : CLIENT_ERROR;
    return statusVerdict(status, undefined, nowMs, false);
  }
  if (ok) return answerVerdict(expect, model, headers, seen);
  if (status === 404) {
    if (seen === NOTHING_READ) return 'error_body';
    return Buffer.isBuffer(seen) && namesRequestedModel(seen, model) ? NOT_FOUND : CLIENT_ERROR;
  }
  // The body of a 429 is kept: one whose Retry-After outlasts the deadline goes to the client.
  if (status === 429 && seen === NOTHING_READ) return 'error_body';
  return statusVerdict(status, headers, nowMs, true);
}

/** A status that is no 2xx and no 404; `detailed` adds `status N` and the 429's `Retry-After`. */
function statusVerdict(
  status: number,
  headers: IncomingHttpHeaders | undefined,
  nowMs: number,
  detailed: boolean,
): Verdict {
  if (status === 429) {
    if (!detailed) return RATE_LIMITED;
    const retryAfterMs = parseRetryAfter(headers?.['retry-after'], nowMs);
    return { result: 'rate_limited', detail: 'status 429', retryAfterMs };
  }
  if (status === 500 || status === 502 || status === 503 || status === 504) {
    return detailed ? { result: 'upstream_5xx', detail: `status ${status}` } : UPSTREAM_5XX;
  }
  return CLIENT_ERROR;
}

/** A 2xx on a verified route: its content type says what to read; what was read decides. */
function answerVerdict(
  expect: Expectation,
  model: string,
  headers: IncomingHttpHeaders | undefined,
  seen: Buffer | string | Unread | NothingRead,
): Verdict | BodyToRead {
  if (typeof seen === 'string') return firstEventVerdict(seen, model, expect.matches);
  if (Buffer.isBuffer(seen)) return jsonVerdict(seen, model, expect.matches);
  switch (seen.kind) {
    case 'too_large':
      return invalid('JSON body exceeds MAX_RESPONSE_BYTES');
    case 'stream_ended':
      return invalid('stream ended before the first event');
    case 'no_event':
      return invalid('no event within the response size limit');
    case 'nothing':
      break;
  }
  const type = contentType(headers?.['content-type']);
  if (type === 'text/event-stream') return 'first_event';
  if (type === 'application/json') return 'json_body';
  return invalid(`unexpected content-type ${type || '(none)'}`);
}

/** A whole JSON body: its top-level `model` is the requested model (or an alias), or another's. */
function jsonVerdict(body: Buffer, model: string, matches: ModelMatcher): Verdict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return invalid('body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return invalid('body is not a JSON object');
  }
  const served = (parsed as { model?: unknown }).model;
  if (matches(model, served)) return OK;
  if (typeof served !== 'string') return invalid('body has no model');
  return mismatch(served);
}

/** The data of a stream's first event: a chunk naming its model, `[DONE]`, or an in-band error. */
function firstEventVerdict(data: string, model: string, matches: ModelMatcher): Verdict {
  if (data === '[DONE]') return invalid('stream ended before any data');
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return invalid('first event is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object') return invalid('first event is not a JSON object');
  const { model: served, error } = parsed as { model?: unknown; error?: unknown };
  if (error !== undefined && error !== null) return inBandErrorVerdict(error, model);
  if (matches(model, served)) return OK;
  if (typeof served !== 'string') return invalid('first event has no model');
  return mismatch(served);
}

/**
 * vLLM reports failures after a 200 as `data: {"error":{"message","type","code"}}`, read as the
 * same error sent as a status would be: a not-found naming the requested model is a routing miss,
 * any other not-found and any other 4xx are the client's problem (the stream is passed through as
 * it came, issue 10), 429 is rate limiting, anything else a server failure worth another attempt.
 */
function inBandErrorVerdict(error: unknown, model: string): Verdict {
  const { code, type, message } = (typeof error === 'object' ? error : {}) as {
    code?: unknown;
    type?: unknown;
    message?: unknown;
  };
  const status = typeof code === 'number' ? code : Number(code);
  if (status === 404 || type === 'NotFoundError') {
    return typeof message === 'string' && quotesModel(message, model) ? NOT_FOUND : CLIENT_ERROR;
  }
  if (status === 429) return RATE_LIMITED;
  if (status >= 400 && status < 500) return CLIENT_ERROR;
  return UPSTREAM_5XX;
}

function failureVerdict(failure: TransportFailure, status: number): Verdict {
  if (failure.timedOut) {
    const limit = failure.capped ? 'the retry deadline (RETRY_DEADLINE_MS)' : 'ATTEMPT_TIMEOUT_MS';
    const awaited = status === 0 ? 'response headers' : 'complete answer or first event';
    return { result: 'timeout', detail: `no ${awaited} within ${limit}` };
  }
  const { error } = failure;
  return { result: errorResult(error), detail: describeError(error) };
}

function errorResult(error: unknown): AttemptResult {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return 'timeout';
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return 'invalid_response';
  }
  return 'connect_error';
}

/** A short text for logs: the error's code, else its message. */
function describeError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : typeof message === 'string' ? message : String(error);
}

function isFailure(seen: Seen | NothingRead): seen is TransportFailure {
  return typeof seen === 'object' && !Buffer.isBuffer(seen) && seen.kind === 'failed';
}

function invalid(detail: string): Verdict {
  return { result: 'invalid_response', detail };
}

function mismatch(served: string): Verdict {
  return { result: 'model_mismatch', servedModel: served, detail: `answered by ${served}` };
}

/** The media type of a `content-type` value, lower-cased, without its parameters. */
function contentType(value: string | undefined): string {
  if (value === undefined) return '';
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}
