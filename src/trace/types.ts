import type { IncomingHttpHeaders } from 'node:http';
import type { RequestRecord, Upstream } from '../events.ts';
import type { AttemptOutcome } from '../proxy/attempt.ts';

/**
 * Tracing as the proxy sees it: backstop's own terms, no OpenTelemetry types, so that the request
 * path never loads the SDK. When tracing is off there is no `Tracing` at all and every call site
 * is one optional chain (`job.trace?.…`): nothing is allocated for it.
 */
export interface Tracing {
  /** The SERVER span of a client request, continuing the client's `traceparent` if it sent one. */
  startRequest(method: string, headers: IncomingHttpHeaders): RequestTrace;
  /** Exports what is still buffered, then stops (on shutdown). */
  shutdown(): Promise<void>;
}

/** The trace of one client request. */
export interface RequestTrace {
  /** The request's route is known (normalised, e.g. `/v1/chat/completions`) and its model, if any. */
  routed(route: string, model: string | undefined): void;
  /**
   * The CLIENT span of one upstream attempt, a child of the request's. `backoffMs` is the time
   * slept before it (0 for the first).
   */
  attemptStarted(attempt: number, upstream: Upstream, backoffMs: number): AttemptTrace;
  /** The verified first byte went to the client (the TTFT event). */
  firstByte(): void;
  /** The request ended (finish(): called once per request). */
  ended(record: RequestRecord): void;
}

/** The trace of one upstream attempt. */
export interface AttemptTrace {
  /** The request headers to send with this attempt: the request's, with this span's `traceparent`. */
  headers(base: Record<string, string | string[]>): Record<string, string | string[]>;
  /** The attempt was judged; a committed one ends when its answer has been delivered. */
  judged(outcome: AttemptOutcome): void;
  /** Ends the span; `error` names what cut a committed answer (e.g. `stream_error`). */
  end(error?: string): void;
}
