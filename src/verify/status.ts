import type { AttemptResult } from './attempt-result.ts';

/**
 * What an upstream status alone says about an attempt: `verify` (2xx: the body decides),
 * `not_found` (404: the body decides between a routing miss and a real client error), or a
 * final result. 500/502/503/504 cover vLLM errors, the EPP's `inference error:
 * ServiceUnavailable` and Envoy's `no healthy upstream`; other 5xx are not worth retrying.
 */
export function classifyStatus(status: number): AttemptResult | 'verify' | 'not_found' {
  if (status >= 200 && status < 300) return 'verify';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status === 500 || status === 502 || status === 503 || status === 504) return 'upstream_5xx';
  return 'client_error';
}
