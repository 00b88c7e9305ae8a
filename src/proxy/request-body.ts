import type { IncomingMessage } from 'node:http';
import { BackstopError } from '../errors.ts';

/**
 * Reads a request body into one Buffer, refusing more than `limit` bytes: by the declared
 * `content-length` before reading anything, or while reading a chunked body. The bytes are kept
 * as they came, to be resent unchanged on every attempt.
 */
export function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    // Drain nothing: the client is told now, and the connection closes after the reply.
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onClose = () => {
      if (!req.complete) onError(new Error('client closed the connection while sending the body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number): BackstopError {
  return new BackstopError(
    'body_too_large',
    `Request body exceeds the limit of ${limit} bytes (MAX_BODY_BYTES).`,
  );
}
