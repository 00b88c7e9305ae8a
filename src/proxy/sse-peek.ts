import type { Readable } from 'node:stream';
import type { SseFirstEventPeek, Verdict } from '../verify/index.ts';

/** The first event's verdict and every byte read to reach it, to be sent first if it passes. */
export interface PeekedStream {
  verdict: Verdict;
  held: Buffer[];
}

const ENDED_EARLY: Verdict = { result: 'invalid_response', detail: 'stream ended before the first event' };

/**
 * Reads an SSE body until `peek` has judged its first data event, then pauses it: nothing is
 * forwarded before the model is known, and the rest is left in the socket for the caller to pipe.
 * Held bytes are bounded by `limit` (an endless prelude of comments is an invalid response).
 */
export function peekFirstEvent(
  body: Readable,
  peek: SseFirstEventPeek,
  limit: number,
): Promise<PeekedStream> {
  return new Promise((resolve, reject) => {
    const held: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      held.push(chunk);
      size += chunk.length;
      const verdict = peek.feed(chunk);
      if (verdict !== undefined) {
        body.pause();
        cleanup();
        resolve({ verdict, held });
      } else if (size > limit) {
        cleanup();
        body.destroy();
        resolve({
          verdict: { result: 'invalid_response', detail: 'no event within the response size limit' },
          held,
        });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ verdict: ENDED_EARLY, held });
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
