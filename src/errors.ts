import type { ServerResponse } from 'node:http';

/**
 * Every error backstop itself answers with: one table from stable `code` to HTTP status and
 * OpenAI error `type` (undici's errors.js, reply-from's error table). Clients match on `code`;
 * the README lists each one. Upstream errors that are passed through are not in this table.
 */
export const ERROR_TABLE = {
  invalid_json: { status: 400, type: 'invalid_request_error', param: null },
  missing_model: { status: 400, type: 'invalid_request_error', param: 'model' },
  invalid_model: { status: 400, type: 'invalid_request_error', param: 'model' },
  body_too_large: { status: 413, type: 'invalid_request_error', param: null },
  not_found: { status: 404, type: 'invalid_request_error', param: null },
  model_not_found: { status: 404, type: 'invalid_request_error', param: 'model' },
  retries_exhausted: { status: 502, type: 'upstream_error', param: null },
  circuit_open: { status: 503, type: 'upstream_error', param: null },
  upstream_timeout: { status: 504, type: 'upstream_error', param: null },
  stream_interrupted: { status: 502, type: 'upstream_error', param: null },
  internal_error: { status: 500, type: 'server_error', param: null },
} as const satisfies Record<string, { status: number; type: string; param: string | null }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/** The OpenAI-shaped JSON body for an error: `{"error":{"message","type","param","code"}}`. */
export function errorBody(code: ErrorCode, message: string): string {
  const { type, param } = ERROR_TABLE[code];
  return JSON.stringify({ error: { message, type, param, code } });
}

/**
 * Writes an OpenAI-shaped error to a response that has not started yet. Does nothing if headers
 * already went out (a second response must never be attempted on the same socket).
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  headers?: Record<string, string | number>,
): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(code, message);
  res.writeHead(ERROR_TABLE[code].status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
