import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { readBounded } from './bounded-body.ts';

/**
 * Reads a request body into one Buffer, or resolves `undefined` when it is over `limit` bytes: by
 * the declared `content-length` before reading anything, or while reading a chunked body. The
 * rest of a body too large is drained, not read, so that the client can still be answered. The
 * bytes are kept as they came, to be resent unchanged on every attempt. Rejects with the stream's
 * error, or when it closes before its end (a client that left mid-body).
 */
export function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return readBounded(req, limit, drain);
}

function drain(rest: Readable): void {
  rest.resume();
}
