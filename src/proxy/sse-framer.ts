const LF = 0x0a;
const CR = 0x0d;

/**
 * Passes an SSE stream on in whole events: bytes after the last event boundary (a blank line) are
 * held until the event is complete. If the upstream is cut in the middle of an event, the partial
 * event is dropped instead of reaching the client, where closing it with our error event would
 * dispatch a broken `data:` line (the openai SDK then throws "malformed server-sent event JSON"
 * and never sees the error). The bytes that do go out are the upstream's, unchanged.
 */
export class SseFramer {
  #pending: Buffer | undefined;

  /** The bytes of `chunk` (after any held ones) up to the last complete event; holds the rest. */
  push(chunk: Buffer): Buffer {
    const bytes = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    const end = lastEventEnd(bytes);
    if (end === bytes.length) {
      this.#pending = undefined;
      return bytes;
    }
    this.#pending = Buffer.from(bytes.subarray(end));
    return bytes.subarray(0, end);
  }

  /** The held bytes of an unfinished event (emptied). */
  takePending(): Buffer {
    const pending = this.#pending ?? Buffer.alloc(0);
    this.#pending = undefined;
    return pending;
  }
}

/**
 * Index just past the last blank line in `bytes` (0 when there is none). Lines end in CRLF, LF or
 * CR (WHATWG HTML, server-sent events); a blank line is a line end right after another one.
 */
function lastEventEnd(bytes: Buffer): number {
  for (let i = bytes.length - 1; i > 0; i--) {
    const c = bytes[i];
    const before = bytes[i - 1];
    if (c === LF) {
      if (before === LF) return i + 1;
      if (before === CR && i >= 2 && (bytes[i - 2] === LF || bytes[i - 2] === CR)) return i + 1;
    } else if (c === CR && (before === CR || before === LF)) {
      return i + 1;
    }
  }
  return 0;
}
