import { bomLength, eventData, NONE, nextEventEnd } from '../verify/index.ts';

/**
 * Bytes kept: a `[DONE]` event is recognised when it starts within the last TAIL_BYTES - 3 bytes
 * of the stream (the three before it tell where it starts): `data: [DONE]` and its blank line are
 * 14 to 16 bytes, and an `id:` line or a comment beside it still fits.
 */
const TAIL_BYTES = 64;

/**
 * Remembers the last bytes of a stream passing through, to tell a finished OpenAI stream (its last
 * event that carries data is `data: [DONE]`) from one that was cut. The events are read with the
 * shared SSE grammar (`sse-events.ts`), the one the first-event peek and the framer use. A last
 * `[DONE]` event whose blank line never came counts once its line has ended: the framer then sends
 * it as it came.
 * Cheap on the hot path: a chunk larger than the tail replaces it with a view, no copy, and the
 * events are only read once, at the end.
 */
export class StreamTail {
  #tail: Buffer = Buffer.alloc(0);
  /** Bytes pushed so far: `#tail` holds the stream from its first byte while they fit. */
  #seen = 0;

  push(chunk: Buffer): void {
    this.#seen += chunk.length;
    this.#tail =
      chunk.length >= TAIL_BYTES
        ? chunk.subarray(chunk.length - TAIL_BYTES)
        : Buffer.concat([this.#tail, chunk]).subarray(-TAIL_BYTES);
  }

  /** True when the last event that carries data, of the bytes so far, is the `[DONE]` sentinel. */
  get done(): boolean {
    const whole = this.#seen <= TAIL_BYTES;
    // The whole stream is kept: it is read from its start, past its BOM, where a blank line is an
    // event end. Otherwise the three bytes before an event are what tell where it starts.
    const kept = this.#tail;
    const bytes = whole ? kept.subarray(bomLength(kept, 0, kept.length)) : kept;
    // An event's start is known when it is the stream's, or when the three bytes before it are kept.
    let start = whole ? 0 : NONE;
    let from = whole ? 0 : 2;
    let last = '';
    for (;;) {
      const end = nextEventEnd(bytes, from, NONE, NONE);
      const stop = end < 0 ? bytes.length : end;
      if (start >= 0) {
        const data = eventData(bytes, start, stop);
        if (data !== '') last = data;
      }
      if (end < 0) return last === '[DONE]';
      start = end;
      from = end;
    }
  }
}
