import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { errorBody } from '../errors.ts';
import type { AttemptOutcome } from './attempt.ts';
import { clientResponseHeaders } from './headers.ts';
import { DEFAULT_MAX_EVENT_BYTES, SseFramer } from './sse-framer.ts';
import { StreamTail } from './stream-tail.ts';

/** How writing a committed response ended. */
export type Delivery = 'ok' | 'stream_error' | 'client_closed';

/** What `deliver` needs besides the outcome. */
export interface DeliveryContext {
  requestId: string;
  attempts: number;
  /** A client that takes nothing off its socket for this long, while the upstream waits on it, is cut off. */
  stallTimeoutMs: number;
  /** Runs when the verified first bytes are handed to the socket (TTFT, breaker verdict). */
  onFirstByte: () => void;
  /**
   * Largest SSE event held while it is unfinished (MAX_RESPONSE_BYTES); a larger one ends the
   * stream with `stream_interrupted`. Defaults to MAX_RESPONSE_BYTES's default.
   */
  maxEventBytes?: number;
}

/**
 * Sends a committed attempt to the client: status and headers, the held bytes, then the rest of
 * the upstream body piped with backpressure (a slow reader pauses the upstream socket, so memory
 * stays flat). A verified SSE stream that fails or ends without `[DONE]` gets an OpenAI-shaped
 * error event and no `[DONE]`, so the client never mistakes a cut stream for a finished one.
 * A delivery that is over at once (a whole body, a client already gone) is returned as it is, so
 * the common JSON answer costs no promise; a piped rest resolves when it ends.
 */
export function deliver(
  res: ServerResponse,
  outcome: AttemptOutcome,
  context: DeliveryContext,
): Delivery | Promise<Delivery> {
  const held = outcome.held;
  const rest = outcome.rest;
  if (res.destroyed) {
    rest?.destroy();
    return 'client_closed';
  }
  const headers = clientResponseHeaders(
    outcome.headers ?? {},
    context.requestId,
    context.attempts,
    outcome.sse,
  );
  if (rest === undefined) {
    const body =
      held === undefined || held.length === 0
        ? Buffer.alloc(0)
        : held.length === 1
          ? (held[0] as Buffer)
          : Buffer.concat(held);
    headers['content-length'] = body.length;
    res.writeHead(outcome.status, headers);
    context.onFirstByte();
    res.end(body);
    return 'ok';
  }
  res.writeHead(outcome.status, headers);
  const tail = outcome.sse ? new StreamTail() : undefined;
  // Whole events only, so a cut in mid-event never reaches the client as a broken event.
  const framer = outcome.sse ? new SseFramer(context.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES) : undefined;
  if (held !== undefined) {
    for (const chunk of held) {
      tail?.push(chunk);
      const out = framer ? framer.push(chunk) : chunk;
      if (out.length > 0) res.write(out);
    }
  }
  if (held !== undefined && held.length > 0) context.onFirstByte();
  else res.flushHeaders();
  if (framer?.overflowed) {
    rest.destroy();
    res.end(streamErrorEvent(eventTooLarge(framer)));
    return 'stream_error';
  }
  return pipeRest(res, rest, tail, framer, held === undefined || held.length === 0, context);
}

function pipeRest(
  res: ServerResponse,
  rest: Readable,
  tail: StreamTail | undefined,
  framer: SseFramer | undefined,
  firstPending: boolean,
  context: DeliveryContext,
): Promise<Delivery> {
  return new Promise((resolve) => {
    let first = firstPending;
    let stall: NodeJS.Timeout | undefined;
    let backlog = 0;
    // undici stops its body timeout while the body is paused, so a client that never reads would
    // pin an upstream connection forever. A slow reader is fine (backpressure holds the upstream);
    // one whose backlog did not shrink over a whole CLIENT_STALL_TIMEOUT_MS is gone in all but name.
    const checkStall = () => {
      const now = res.writableLength + (res.socket?.writableLength ?? 0);
      if (now >= backlog) res.destroy();
      else backlog = now;
    };
    const settle = (delivery: Delivery) => {
      cleanup();
      resolve(delivery);
    };
    const onData = (chunk: Buffer) => {
      if (first) {
        first = false;
        context.onFirstByte();
      }
      tail?.push(chunk);
      const out = framer ? framer.push(chunk) : chunk;
      if (framer?.overflowed) {
        // An event that never ends is held, not written, so backpressure cannot pause the
        // upstream: stop reading it, and tell the client in band (issue 10).
        settle('stream_error');
        rest.destroy();
        if (out.length > 0) res.write(out);
        res.end(streamErrorEvent(eventTooLarge(framer)));
        return;
      }
      if (out.length > 0 && !res.write(out)) {
        rest.pause();
        backlog = res.writableLength + (res.socket?.writableLength ?? 0);
        stall = setInterval(checkStall, context.stallTimeoutMs);
      }
    };
    const onDrain = () => {
      clearInterval(stall);
      rest.resume();
    };
    const onEnd = () => {
      settle(tail !== undefined && !tail.done ? 'stream_error' : 'ok');
      if (tail !== undefined && !tail.done) {
        res.end(streamErrorEvent('The upstream ended the stream before it was complete.'));
        return;
      }
      // A final `data: [DONE]` without its blank line is still held: it goes out as it came.
      res.end(framer?.takePending());
    };
    const onError = () => {
      settle('stream_error');
      if (tail !== undefined) {
        res.end(streamErrorEvent('The upstream connection failed in the middle of the stream.'));
      } else {
        res.destroy();
      }
    };
    // A body destroyed without an error event (a swallowed abort) still has to end the response.
    const onRestClose = () => {
      if (!rest.readableEnded) onError();
    };
    const onClientClose = () => {
      if (res.writableFinished) return;
      settle('client_closed');
      // The client went away: stop the upstream now, so the GPU stops generating.
      rest.destroy();
    };
    const cleanup = () => {
      clearInterval(stall);
      rest.off('data', onData);
      rest.off('end', onEnd);
      rest.off('error', onError);
      rest.off('close', onRestClose);
      res.off('drain', onDrain);
      res.off('close', onClientClose);
    };
    // A body that was already read to its end, or failed, before delivery began (a body of
    // another Readable than UpstreamBody may have ended with no listener) is finished here.
    if (rest.readableEnded) {
      onEnd();
      return;
    }
    if (rest.destroyed) {
      onError();
      return;
    }
    rest.on('data', onData);
    rest.on('end', onEnd);
    rest.on('error', onError);
    rest.on('close', onRestClose);
    res.on('drain', onDrain);
    res.on('close', onClientClose);
    rest.resume();
  });
}

function eventTooLarge(framer: SseFramer): string {
  return `The upstream sent an event larger than ${framer.maxEventBytes} bytes (MAX_RESPONSE_BYTES); backstop ended the stream.`;
}

/** The error event that ends a cut stream; what went before it always ended with a whole event. */
function streamErrorEvent(message: string): string {
  return `data: ${errorBody('stream_interrupted', message)}\n\n`;
}
