const TAIL_BYTES = 24;
const DONE = /data: ?\[DONE\]\r?\n\r?\n?$|data: ?\[DONE\]\r\r?$/;

/**
 * Remembers the last bytes of a stream passing through, to tell a finished OpenAI stream (it
 * ends with `data: [DONE]`) from one that was cut.
 * Cheap on the hot path: a chunk larger than the tail replaces it with a view, no copy.
 */
export class StreamTail {
  #tail: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.#tail =
      chunk.length >= TAIL_BYTES
        ? chunk.subarray(chunk.length - TAIL_BYTES)
        : Buffer.concat([this.#tail, chunk]).subarray(-TAIL_BYTES);
  }

  /** True when the bytes so far end with the `[DONE]` sentinel event. */
  get done(): boolean {
    return DONE.test(this.#tail.toString('latin1'));
  }
}
