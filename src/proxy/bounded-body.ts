import type { Readable } from 'node:stream';

/**
 * Reads a whole body into one Buffer, or resolves `undefined` once it passes `limit` bytes,
 * after handing the stream to `onOverflow` (an upstream body is destroyed to free its socket; a
 * client's request is drained so it can still be answered). Rejects with the stream's error, or
 * when it closes before its end (a client that left mid-body).
 */
export function readBounded(
  body: Readable,
  limit: number,
  onOverflow: (body: Readable) => void = destroy,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        onOverflow(body);
        resolve(undefined);
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
    const onClose = () => {
      if (!body.readableEnded) onError(new Error('the stream closed before its end'));
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      // A late error between now and the next owner's listeners must not crash the process.
      body.on('error', ignore);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

function destroy(body: Readable): void {
  body.destroy();
}

function ignore(): void {}
