import type { BreakerState } from './resilience/index.ts';
import type { AttemptResult } from './verify/index.ts';

/**
 * How a client request ended. Public taxonomy: the `outcome` label of `backstop_requests_total`
 * and `backstop_request_duration_seconds`, and the `outcome` field of the request log line.
 */
export const REQUEST_OUTCOMES = [
  'ok',
  'client_error',
  'rate_limited',
  'retries_exhausted',
  'budget_exhausted',
  'upstream_timeout',
  'circuit_open',
  'model_not_allowed',
  'bad_request',
  'client_closed',
  'stream_error',
  'internal_error',
] as const;

export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/**
 * Where an attempt went: the gateway (UPSTREAM_URL) or its model's own endpoint (MODEL_ENDPOINTS).
 * The `upstream` label of `backstop_attempts_total` and the request log line's `upstreams`.
 */
export type Upstream = 'gateway' | 'direct';

/** What is known about one client request when it ends: the log line and the metrics read it. */
export interface RequestRecord {
  id: string;
  method: string;
  path: string;
  /** The requested model, or '' for routes without one (`GET /v1/models`). */
  model: string;
  stream: boolean;
  /** Each attempt's result, in order. */
  results: AttemptResult[];
  /** Where each attempt went, in the order of `results`. */
  upstreams: Upstream[];
  status: number;
  outcome: RequestOutcome;
  /** Milliseconds since the request arrived. */
  durationMs: number;
  /** Milliseconds until the verified first byte went to the client, when one did. */
  ttftMs: number | undefined;
  /** A short reason for failures, for the log line. */
  detail: string | undefined;
}

/**
 * The proxy's events. The proxy calls these; metrics and logs implement them (policies emit,
 * observers subscribe), so forwarding code never touches prom-client or pino.
 */
export interface ProxyObserver {
  requestStarted(model: string): void;
  /**
   * One upstream attempt was judged. `servedModel` is the model a wrong-model answer named
   * (`model_mismatch`); undefined otherwise, a vLLM 404 included (it names only the requested model).
   */
  attemptEnded(model: string, result: AttemptResult, servedModel?: string, upstream?: Upstream): void;
  requestEnded(record: RequestRecord): void;
  /** A breaker changed state: the gateway's for `model` unless `upstream` says `direct`. */
  breakerChanged(model: string, state: BreakerState, upstream?: Upstream): void;
  budgetExhausted(model: string): void;
}

/** Fans one event out to several observers. */
export function combineObservers(observers: readonly ProxyObserver[]): ProxyObserver {
  return {
    requestStarted: (model) => {
      for (const o of observers) o.requestStarted(model);
    },
    attemptEnded: (model, result, servedModel, upstream) => {
      for (const o of observers) o.attemptEnded(model, result, servedModel, upstream);
    },
    requestEnded: (record) => {
      for (const o of observers) o.requestEnded(record);
    },
    breakerChanged: (model, state, upstream) => {
      for (const o of observers) o.breakerChanged(model, state, upstream);
    },
    budgetExhausted: (model) => {
      for (const o of observers) o.budgetExhausted(model);
    },
  };
}
