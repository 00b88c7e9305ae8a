import type { IncomingMessage } from 'node:http';
import { BackstopError } from '../errors.ts';
import { readBounded } from './bounded-body.ts';

/**
 * Reads a request body into one Buffer, refusing more than `limit` bytes: by the declared
 * `content-length` before reading anything, or while reading a chunked body. The bytes are kept
 * as they came, to be resent unchanged on every attempt.
 * @throws BackstopError `body_too_large`; or the stream's error when the client leaves mid-body.
 */
export async function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  // The rest is drained, not read: the client is told at once, then the connection closes.
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const body = await readBounded(req, limit, (rest) => rest.resume());
  if (body === undefined) throw tooLarge(limit);
  return body;
}

function tooLarge(limit: number): BackstopError {
  return new BackstopError(
    'body_too_large',
    `Request body exceeds the limit of ${limit} bytes (MAX_BODY_BYTES).`,
  );
}
