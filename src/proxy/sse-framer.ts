import { byteBeforeLast, lastByte, lastEventEnd, NONE } from '../verify/index.ts';

const EMPTY = Buffer.alloc(0);

/**
 * The largest unfinished event a framer holds by default: MAX_RESPONSE_BYTES's default (16 MiB),
 * the same bound the first-event peek and a JSON body get. An event that never ends is the
 * upstream's fault, and holding it would grow memory without limit while writing nothing, so
 * backpressure would never pause the upstream (issue 10).
 */
export const DEFAULT_MAX_EVENT_BYTES = 16 * 1_048_576;

/**
 * Passes an SSE stream on in whole events: bytes after the last event boundary (a blank line) are
 * held until the event is complete. If the upstream is cut in the middle of an event, the partial
 * event is dropped instead of reaching the client, where closing it with our error event would
 * dispatch a broken `data:` line (the openai SDK then throws "malformed server-sent event JSON"
 * and never sees the error). The bytes that do go out are the upstream's, unchanged.
 *
 * Event ends are the shared SSE grammar's (`lastEventEnd` of `sse-events.ts`, which the first-event
 * peek and the stream tail use too). Each byte is scanned once (the held chunks are kept as they
 * came, with the two bytes before the new chunk as context), and what is held is bounded: once the
 * unfinished event passes `maxEventBytes`, `overflowed` is true and the caller ends the stream.
 */
export class SseFramer {
  /** The largest unfinished event held; past it, `overflowed`. */
  readonly maxEventBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** The last two bytes seen (`NONE` before any): a boundary may span the edge of a chunk. */
  #prev1 = NONE;
  #prev2 = NONE;

  constructor(maxEventBytes = DEFAULT_MAX_EVENT_BYTES) {
    this.maxEventBytes = maxEventBytes;
  }

  /** The bytes of `chunk` (after any held ones) up to the last complete event; holds the rest. */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return EMPTY;
    const end = lastEventEnd(chunk, this.#prev1, this.#prev2);
    this.#prev2 = byteBeforeLast(chunk, this.#prev1, this.#prev2);
    this.#prev1 = lastByte(chunk, this.#prev1);
    if (end === 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      return EMPTY;
    }
    const head = end === chunk.length ? chunk : chunk.subarray(0, end);
    let out = head;
    if (this.#pending.length > 0) {
      this.#pending.push(head);
      out = Buffer.concat(this.#pending, this.#pendingBytes + head.length);
      this.#pending = [];
    }
    if (end < chunk.length) this.#pending.push(chunk.subarray(end));
    this.#pendingBytes = chunk.length - end;
    return out;
  }

  /** Bytes held of the unfinished event. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** True once the unfinished event is larger than `maxEventBytes`: the stream must end. */
  get overflowed(): boolean {
    return this.#pendingBytes > this.maxEventBytes;
  }

  /** The held bytes of an unfinished event (emptied). */
  takePending(): Buffer {
    const pending =
      this.#pending.length === 1
        ? (this.#pending[0] as Buffer)
        : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    return pending;
  }
}
