/**
 * Whether a request's client is still there, known from its response's `close` before the
 * response was finished. One per request, and no AbortController on the hot path: the attempt in
 * progress watches through one callback slot (a request's attempts run one at a time), and only
 * the rare waits that take an AbortSignal (backoff sleep, the misroute queue) get one, made on
 * first use. An AbortController per request and a listener added and removed per attempt were
 * about 1% of the CPU and 0.5 KB of garbage per request (issue 13).
 */
export class ClientWatch {
  #gone = false;
  #watcher: (() => void) | undefined = undefined;
  #controller: AbortController | undefined = undefined;

  /** The client went away before its answer was finished. */
  get gone(): boolean {
    return this.#gone;
  }

  /** Marks the client gone, once: the watcher runs, then any signal handed out aborts. */
  leave(): void {
    if (this.#gone) return;
    this.#gone = true;
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.();
    this.#controller?.abort();
  }

  /** Runs `fn` when the client leaves; it replaces the previous watcher, if one is still set. */
  watch(fn: () => void): void {
    this.#watcher = fn;
  }

  /** Clears the watcher, if it is still `fn`. */
  unwatch(fn: () => void): void {
    if (this.#watcher === fn) this.#watcher = undefined;
  }

  /** An AbortSignal for APIs that take one; already aborted if the client has left. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#gone) this.#controller.abort();
    }
    return this.#controller.signal;
  }
}
