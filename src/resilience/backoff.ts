import type { Random } from './clock.ts';

/** Settings of the full-jitter exponential backoff. */
export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delay before retry number `retry` (1 for the first retry): "full jitter",
 * random(0, min(max, base * 2^(retry-1))), as in the AWS architecture blog's comparison, which
 * spreads retries of many clients instead of synchronising them the way a fixed sleep does.
 * A `Retry-After` from the upstream (429) sets a floor, still capped by `maxDelayMs` so one
 * upstream cannot park a request past the proxy's own limits.
 */
export function backoffDelay(
  retry: number,
  options: BackoffOptions,
  random: Random,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const jittered = random() * ceiling;
  if (retryAfterMs === undefined) return jittered;
  return Math.min(options.maxDelayMs, Math.max(jittered, retryAfterMs));
}

/**
 * Parses a `Retry-After` header value (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date)
 * into milliseconds from `nowEpochMs`. Returns `undefined` when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowEpochMs: number,
): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowEpochMs);
}
