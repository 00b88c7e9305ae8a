import type { Readable } from 'node:stream';
import { NO_EVENT, SseFirstEvent, STREAM_ENDED, type Unread } from '../verify/index.ts';

/** The first event's data (or why there is none) and every byte read to reach it. */
export interface PeekedStream {
  /** The data of the first event that carries any, for `classifyAttempt`. */
  seen: string | Unread;
  held: Buffer[];
}

/**
 * Reads an SSE body until its first event that carries data is complete, then pauses it: nothing
 * is forwarded before the model is known, and the rest is left in the socket for the caller to
 * pipe. Held bytes are bounded by `limit` (an endless prelude of comments is an invalid response).
 */
export function peekFirstEvent(body: Readable, limit: number): Promise<PeekedStream> {
  return new Promise((resolve, reject) => {
    const first = new SseFirstEvent();
    const held: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      held.push(chunk);
      size += chunk.length;
      const data = first.feed(chunk);
      if (data !== undefined) {
        body.pause();
        cleanup();
        resolve({ seen: data, held });
      } else if (size > limit) {
        cleanup();
        body.destroy();
        resolve({ seen: NO_EVENT, held });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ seen: STREAM_ENDED, held });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      // A late error between now and the next owner's listeners must not crash the process.
      body.on('error', ignore);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
  });
}

function ignore(): void {}
