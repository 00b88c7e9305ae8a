import type { AttemptResult } from '../verify/index.ts';

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/**
 * Classifies an error thrown by the upstream client. Matched by undici's and Node's stable `code`,
 * never by message (undici's messages change between majors). Everything that is not a timeout
 * is a connection-level failure before the response was complete: refused, reset, closed, DNS.
 */
export function classifyUpstreamError(error: unknown): AttemptResult {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return 'timeout';
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return 'invalid_response';
  }
  return 'connect_error';
}

/** A short text for logs: the error's code, else its message. */
export function describeUpstreamError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : typeof message === 'string' ? message : String(error);
}
