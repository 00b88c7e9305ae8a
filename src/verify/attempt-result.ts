/**
 * How one upstream attempt ended. Public taxonomy: it appears in logs and as the `result` label of
 * `backstop_attempts_total`; docs/resilience.md (Attempt results) documents each value.
 */
export const ATTEMPT_RESULTS = [
  'ok',
  'model_mismatch',
  'model_not_found',
  'upstream_5xx',
  'rate_limited',
  'timeout',
  'connect_error',
  'invalid_response',
  'client_error',
] as const;

export type AttemptResult = (typeof ATTEMPT_RESULTS)[number];

/** The verdict on a response body: its result, and the model that answered when one was read. */
export interface Verdict {
  readonly result: AttemptResult;
  readonly servedModel?: string;
  /** Why a body was judged invalid, for logs. */
  readonly detail?: string;
}
