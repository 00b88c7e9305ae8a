import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** The attempt handler behind a body: it feeds the body and knows whether the response is over. */
export interface BodySource {
  /** Nobody will read the rest: drop it (bounded) so the keep-alive socket can be reused. */
  drain(): void;
  /** The response was read to its end, or failed: there is nothing left to abort. */
  readonly finished: boolean;
}

/** As undici's own response bodies: the bytes a paused body holds before the socket is paused. */
const HIGH_WATER_MARK = 64 * 1024;

/**
 * The unread rest of an upstream response, for the client: a Readable that the attempt's dispatch
 * handler pushes into. Backpressure reaches the socket: a full buffer pauses the request, a read
 * resumes it. Destroying the body aborts the request (a client that left stops the generation).
 */
export class UpstreamBody extends Readable {
  readonly #controller: Dispatcher.DispatchController | null;
  readonly #source: BodySource;

  /** `controller` is null for a response already read to its end. */
  constructor(controller: Dispatcher.DispatchController | null, source: BodySource) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.#controller = controller;
    this.#source = source;
  }

  override _read(): void {
    this.#controller?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#source.finished)
      this.#controller?.abort(error ?? new Error('the response body was destroyed'));
    callback(error);
  }

  /** Nobody will read the rest: drained up to a bound, then the request is aborted. */
  discard(): void {
    this.#source.drain();
  }
}
