import { bomLength, byteBeforeLast, eventData, lastByte, NONE, nextEventEnd } from './sse-events.ts';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Finds the first SSE event that carries data in a stream fed chunk by chunk, with the shared
 * grammar of `sse-events.ts` (comments, `id:` / `retry:` lines, CR / LF / CRLF, a BOM, events
 * split anywhere). What that data means is the classifier's business (`classifyAttempt`). One
 * instance per attempt; chunks are read, never copied, unless an event spans several of them.
 */
export class SseFirstEvent {
  /** The two bytes before the next chunk. */
  #p1 = NONE;
  #p2 = NONE;
  /** The unfinished event's bytes from earlier chunks (views, no copies); usually none. */
  #parts: Buffer[] | undefined;
  #partsBytes = 0;
  /** No byte after the stream's BOM has been read yet. */
  #atStart = true;
  /** The stream's first one or two bytes while they may still be the start of a BOM. */
  #head: Buffer | undefined;
  #data: string | undefined;

  /** Feeds one chunk; returns the first event's data once that event is complete. */
  feed(chunk: Buffer): string | undefined {
    if (this.#data !== undefined) return this.#data;
    if (this.#atStart) {
      // A BOM belongs to no line, so what follows it still starts the stream (a blank line there
      // is an event end, WHATWG). It may come cut across chunks: its first bytes wait here.
      if (this.#head !== undefined) chunk = Buffer.concat([this.#head, chunk]);
      this.#head = undefined;
      if (chunk.length < BOM.length && BOM.subarray(0, chunk.length).equals(chunk)) {
        if (chunk.length > 0) this.#head = chunk;
        return undefined;
      }
      chunk = chunk.subarray(bomLength(chunk, 0, chunk.length));
      this.#atStart = false;
    }
    let start = 0;
    for (;;) {
      const end = nextEventEnd(chunk, start, this.#p1, this.#p2);
      if (end < 0) break;
      const data = this.#dataOf(chunk, start, end);
      start = end;
      if (data !== '') {
        this.#data = data;
        return data;
      }
    }
    if (start < chunk.length) {
      const rest = start === 0 ? chunk : chunk.subarray(start);
      if (this.#parts === undefined) this.#parts = [rest];
      else this.#parts.push(rest);
      this.#partsBytes += rest.length;
    }
    this.#p2 = byteBeforeLast(chunk, this.#p1, this.#p2);
    this.#p1 = lastByte(chunk, this.#p1);
    return undefined;
  }

  /** The data of the event that ends at `chunk[end - 1]` and began after `start` (or earlier). */
  #dataOf(chunk: Buffer, start: number, end: number): string {
    let bytes = chunk;
    let from = start;
    let to = end;
    if (this.#parts !== undefined) {
      this.#parts.push(chunk.subarray(start, end));
      bytes = Buffer.concat(this.#parts, this.#partsBytes + end - start);
      from = 0;
      to = bytes.length;
      this.#parts = undefined;
      this.#partsBytes = 0;
    }
    return eventData(bytes, from, to);
  }
}
