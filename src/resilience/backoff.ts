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

/** How routing misses are retried: a few fast, then a full-jitter backoff with its own cap. */
export interface MisrouteBackoffOptions extends BackoffOptions {
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
 * helps then, so later misses take a full-jitter backoff, its exponent counting only those
 * patient misses. Its cap is lower than the overload backoff's: a request waiting for its pod
 * competes with fresh requests for the moment the loads tie, and one that polls once in 2 s loses
 * that race to every newcomer (measured: 1 demo run in 4 starved a Phi-3 request for 24 misses).
 */
export function misrouteDelay(miss: number, options: MisrouteBackoffOptions, random: Random): number {
  if (miss <= options.fastRetries) return random() * options.fastDelayMs;
  return backoffDelay(miss - options.fastRetries, options, random);
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
