import type { ServerResponse } from 'node:http';
import { type ErrorCode, sendError } from '../errors.ts';
import type { ProxyObserver, RequestOutcome, RequestRecord } from '../events.ts';
import type { RequestTrace } from '../trace/index.ts';

/** A request being ended: its response, its record and when it arrived. */
export interface EndingRequest {
  res: ServerResponse;
  record: RequestRecord;
  /** On the scale of `now()`. */
  startedAt: number;
  /** Its trace, when tracing is on. */
  trace?: RequestTrace | undefined;
}

/** What ending a request reports to. */
export interface EndingDeps {
  observer: ProxyObserver;
  now: () => number;
  /** Logs a bug that surfaced while a request was ending, with its id. */
  onUnexpectedError?: (error: unknown, requestId: string) => void;
}

/**
 * The one end of every request: sets its status, outcome and duration and emits the record
 * (metrics, the log line, the trace's SERVER span), once, whichever path gets here first. A
 * request whose client went away before any of its answer was written is 499 `client_closed`,
 * whatever was meant for it.
 */
export function finish(
  request: EndingRequest,
  deps: EndingDeps,
  status: number,
  outcome: RequestOutcome,
  detail: string | undefined,
): void {
  const { record, res } = request;
  if (record.status !== 0) return;
  record.status = outcome === 'client_closed' && !res.headersSent ? 499 : status;
  record.outcome = outcome;
  record.detail = detail;
  record.durationMs = deps.now() - request.startedAt;
  deps.observer.requestEnded(record);
  request.trace?.ended(record);
}

/**
 * Ends a request with backstop's own error answer (ERROR_TABLE), written if the client is still
 * there. The record waits for the answer's fate: a client that left before it went out, or while
 * it queued behind the answer to an earlier pipelined request, never got it, and is recorded 499
 * `client_closed`, not as the status it never saw (issue 10).
 */
export function answerError(
  request: EndingRequest,
  deps: EndingDeps,
  code: ErrorCode,
  outcome: RequestOutcome,
  message: string,
  headers: Record<string, string | number>,
  detail: string = message,
): void {
  const { res } = request;
  sendError(res, code, message, headers);
  whenSent(res)
    .then((sent) => {
      if (sent) finish(request, deps, res.statusCode, outcome, detail);
      else finish(request, deps, 499, 'client_closed', `client closed before the answer (${outcome})`);
    })
    // An observer's bug here would otherwise be an unhandled rejection, which ends the process.
    .catch((error: unknown) => deps.onUnexpectedError?.(error, request.record.id));
}

/**
 * Ends a request that never goes upstream (a bad body, a model outside MODELS, no such route)
 * with backstop's error answer, as the attempt loop ends its own: counted, logged, and 499
 * `client_closed` if the client left before the answer.
 */
export function refuse(
  request: EndingRequest,
  deps: EndingDeps,
  outcome: RequestOutcome,
  code: ErrorCode,
  message: string,
  headers?: Record<string, string>,
): void {
  const { record } = request;
  deps.observer.requestStarted(record.model);
  const sent = { ...headers, 'x-request-id': record.id, 'x-backstop-attempts': 0 };
  answerError(request, deps, code, outcome, message, sent, code);
}

/**
 * Ends a request that a bug interrupted: 500 `internal_error` if nothing went out yet, else the
 * connection is cut (a half-sent answer must not look whole). Recorded like any other end.
 */
export function endAfterBug(request: EndingRequest, deps: EndingDeps, error: unknown): void {
  const { res } = request;
  if (res.headersSent) {
    res.destroy();
    finish(request, deps, res.statusCode, 'internal_error', String(error));
    return;
  }
  const headers = { 'x-request-id': request.record.id };
  const message = 'backstop failed to handle the request.';
  answerError(request, deps, 'internal_error', 'internal_error', message, headers, String(error));
}

/** Resolves true once the whole response was handed to the socket, false if it closed first. */
function whenSent(res: ServerResponse): Promise<boolean> {
  if (res.writableFinished) return Promise.resolve(true);
  if (res.destroyed || !res.headersSent) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onFinish = () => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      res.off('finish', onFinish);
      resolve(res.writableFinished);
    };
    res.once('finish', onFinish);
    res.once('close', onClose);
  });
}
