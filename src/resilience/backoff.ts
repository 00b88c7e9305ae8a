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
 * A `Retry-After` from the upstream (429) is honoured in full: waiting less than the gateway asked
 * only earns another 429. The caller's deadline bounds it (a Retry-After that does not fit goes to
 * the client instead).
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
  return Math.max(jittered, retryAfterMs);
}

/** How routing misses are retried before they fall back to the ordinary backoff. */
export interface MisrouteBackoffOptions {
  /** Misses retried fast, each after random(0, fastDelayMs). */
  fastRetries: number;
  fastDelayMs: number;
}

/**
 * Delay before retrying a request after its `miss`-th routing miss (1 for the first). A miss comes
 * back in milliseconds and costs no GPU time, and when picks are independent (idle pods, a coin
 * flip) the next attempt has the same odds at once: the first `fastRetries` go out after a few ms
 * of jitter. A miss that persists means the picks are correlated (a busy model's requests keep
 * landing on the idle other pod, or the picker's view is stale for seconds): waiting is what
 * helps then, so later misses take the ordinary full-jitter backoff, its exponent counting only
 * those patient misses.
 */
export function misrouteDelay(
  miss: number,
  fast: MisrouteBackoffOptions,
  backoff: BackoffOptions,
  random: Random,
): number {
  if (miss <= fast.fastRetries) return random() * fast.fastDelayMs;
  return backoffDelay(miss - fast.fastRetries, backoff, random);
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
