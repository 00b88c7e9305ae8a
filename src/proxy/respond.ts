import type { ServerResponse } from 'node:http';
import { errorBody } from '../errors.ts';
import type { AttemptOutcome } from './attempt.ts';
import { clientResponseHeaders } from './headers.ts';
import { SseFramer } from './sse-framer.ts';
import { StreamTail } from './stream-tail.ts';

/** How writing a committed response ended. */
export type Delivery = 'ok' | 'stream_error' | 'client_closed';

/**
 * Sends a committed attempt to the client: status and headers, the held bytes, then the rest of
 * the upstream body piped with backpressure (a slow reader pauses the upstream socket, so memory
 * stays flat). `onFirstByte` runs when the verified first bytes are handed to the socket.
 * A verified SSE stream that fails or ends without `[DONE]` gets an OpenAI-shaped error event
 * and no `[DONE]`, so the client never mistakes a cut stream for a finished one.
 */
export function deliver(
  res: ServerResponse,
  outcome: AttemptOutcome,
  requestId: string,
  attempts: number,
  onFirstByte: () => void,
): Promise<Delivery> {
  const headers = clientResponseHeaders(outcome.headers ?? {}, requestId, attempts, outcome.sse);
  const held = outcome.held;
  const rest = outcome.rest;
  if (res.destroyed) {
    rest?.destroy();
    return Promise.resolve('client_closed');
  }
  if (rest === undefined) {
    const body =
      held === undefined || held.length === 0
        ? Buffer.alloc(0)
        : held.length === 1
          ? (held[0] as Buffer)
          : Buffer.concat(held);
    headers['content-length'] = body.length;
    res.writeHead(outcome.status, headers);
    onFirstByte();
    res.end(body);
    return Promise.resolve('ok');
  }
  res.writeHead(outcome.status, headers);
  const tail = outcome.sse ? new StreamTail() : undefined;
  // Whole events only, so a cut in mid-event never reaches the client as a broken event.
  const framer = outcome.sse ? new SseFramer() : undefined;
  if (held !== undefined) {
    for (const chunk of held) {
      tail?.push(chunk);
      const out = framer ? framer.push(chunk) : chunk;
      if (out.length > 0) res.write(out);
    }
  }
  if (held !== undefined && held.length > 0) onFirstByte();
  else res.flushHeaders();
  return new Promise((resolve) => {
    let first = held === undefined || held.length === 0;
    const onData = (chunk: Buffer) => {
      if (first) {
        first = false;
        onFirstByte();
      }
      tail?.push(chunk);
      const out = framer ? framer.push(chunk) : chunk;
      if (out.length > 0 && !res.write(out)) rest.pause();
    };
    const onDrain = () => rest.resume();
    const onEnd = () => {
      cleanup();
      if (tail !== undefined && !tail.done) {
        res.end(streamErrorEvent('The upstream ended the stream before it was complete.'));
        resolve('stream_error');
        return;
      }
      // A final `data: [DONE]` without its blank line is still held: it goes out as it came.
      res.end(framer?.takePending());
      resolve('ok');
    };
    const onError = () => {
      cleanup();
      if (tail !== undefined) {
        res.end(streamErrorEvent('The upstream connection failed in the middle of the stream.'));
      } else {
        res.destroy();
      }
      resolve('stream_error');
    };
    const onClose = () => {
      if (res.writableFinished) return;
      cleanup();
      // The client went away: stop the upstream now, so the GPU stops generating.
      rest.destroy();
      resolve('client_closed');
    };
    const cleanup = () => {
      rest.off('data', onData);
      rest.off('end', onEnd);
      rest.off('error', onError);
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    rest.on('data', onData);
    rest.on('end', onEnd);
    rest.on('error', onError);
    res.on('drain', onDrain);
    res.on('close', onClose);
    rest.resume();
  });
}

/** The error event that ends a cut stream; what went before it always ended with a whole event. */
function streamErrorEvent(message: string): string {
  return `data: ${errorBody('stream_interrupted', message)}\n\n`;
}
