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

/** The verdict on an attempt (`classifyAttempt`): its result, and what the retry loop and logs need. */
export interface Verdict {
  readonly result: AttemptResult;
  /** The model that answered instead of the requested one (`model_mismatch`). */
  readonly servedModel?: string;
  /** Why, for logs: a failed attempt's status, error code or what was wrong with its body. */
  readonly detail?: string;
  /** A 429's `Retry-After`, in milliseconds from when its headers arrived. */
  readonly retryAfterMs?: number;
}

/**
 * What a failed attempt says, for the retry loop:
 * - `misroute`: the gateway answered at once from the wrong pod (`model_not_found`,
 *   `model_mismatch`). It costs no GPU time and says nothing bad about the model's health, so it
 *   is retried fast at first, counts against RETRY_MAX_MISROUTES and its own budget, and never
 *   against the breaker.
 * - `unavailable`: overload or failure upstream (`upstream_5xx`, `rate_limited`, `timeout`,
 *   `connect_error`, `invalid_response`): full-jitter backoff, RETRY_MAX_ATTEMPTS, the retry
 *   budget and the breaker.
 * - `final`: the answer goes to the client as it is (`ok`, `client_error`).
 */
export type RetryClass = 'misroute' | 'unavailable' | 'final';

/** The retry class of an attempt result (pure; the one place this is decided). */
export function retryClassOf(result: AttemptResult): RetryClass {
  switch (result) {
    case 'model_not_found':
    case 'model_mismatch':
      return 'misroute';
    case 'ok':
    case 'client_error':
      return 'final';
    default:
      return 'unavailable';
  }
}
