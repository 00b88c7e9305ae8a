import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  type AttemptResult,
  classifyAttempt,
  type ModelMatcher,
  NOTHING_READ,
  type Seen,
  TOO_LARGE,
  type Verdict,
} from '../verify/index.ts';
import { readBounded } from './bounded-body.ts';
import { peekFirstEvent } from './sse-peek.ts';

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

const ERROR_BODY_LIMIT = 64 * 1024;

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
    if (spec.clientSignal.aborted) {
      outcome.clientGone = true;
    } else {
      const failure = { kind: 'failed', error, timedOut, capped: timeoutMs < spec.attemptTimeoutMs } as const;
      apply(outcome, classifyAttempt(spec, outcome.status, outcome.headers, failure, 0));
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

/**
 * Reads what `classifyAttempt` asks for, and keeps what the client may get: the verdict is the
 * classifier's alone; here are only the reads and where the bytes go. A body that the loop can
 * commit (a final result, or a 429 whose Retry-After outlasts the deadline) is kept; any other is
 * consumed or destroyed.
 */
async function judge(
  spec: AttemptSpec,
  response: Dispatcher.ResponseData,
  outcome: AttemptOutcome,
): Promise<void> {
  const { body, statusCode, headers } = response;
  // Read once, when the headers arrive: it dates an HTTP-date Retry-After.
  const now = Date.now();
  const first = classifyAttempt(spec, statusCode, headers, NOTHING_READ, now);
  if (typeof first !== 'string') {
    apply(outcome, first);
    // Pass-through routes and a model route's client error go to the client as they came.
    if (spec.model === undefined || first.result === 'client_error') outcome.rest = body;
    else discard(body);
    return;
  }
  if (first === 'first_event') {
    const peeked = await peekFirstEvent(body, spec.maxResponseBytes);
    const verdict = classifyAttempt(spec, statusCode, headers, peeked.seen, now);
    apply(outcome, verdict);
    if (verdict.result === 'ok' || verdict.result === 'client_error') {
      outcome.held = peeked.held;
      outcome.rest = body;
      outcome.sse = verdict.result === 'ok';
    } else {
      body.destroy();
    }
    return;
  }
  const limit = first === 'json_body' ? spec.maxResponseBytes : ERROR_BODY_LIMIT;
  // A body whose declared length is already past the limit is not read first (the soak saw
  // oversized answers add 16 MiB of RSS each): it is as good as read and too large.
  let bytes: Buffer | undefined;
  if (Number(headers['content-length']) > limit) body.destroy();
  else bytes = await readBounded(body, limit);
  const seen: Seen = bytes ?? TOO_LARGE;
  const verdict = classifyAttempt(spec, statusCode, headers, seen, now);
  apply(outcome, verdict);
  // A verified JSON answer; a 404 or 429 the client may get (a dropped one has no body left).
  if (first === 'json_body' ? verdict.result === 'ok' : verdict.result !== 'model_not_found') {
    outcome.held = bytes === undefined ? [] : [bytes];
  }
}

function apply(outcome: AttemptOutcome, verdict: Verdict): void {
  outcome.result = verdict.result;
  outcome.detail = verdict.detail;
  outcome.servedModel = verdict.servedModel;
  outcome.retryAfterMs = verdict.retryAfterMs;
}

/** Frees an outcome's unread body when the loop will not deliver it. */
export function discardOutcome(outcome: AttemptOutcome): void {
  if (outcome.rest !== undefined) discard(outcome.rest);
  outcome.rest = undefined;
}

/** Reads a small error body to the end so its keep-alive socket can be reused; big ones are dropped. */
function discard(body: Readable & { dump?: (opts?: { limit: number }) => Promise<void> }): void {
  if (body.dump) body.dump({ limit: ERROR_BODY_LIMIT }).catch(() => {});
  else body.destroy();
}
