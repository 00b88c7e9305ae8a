import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Outcome, StatsRecorder } from './stats.ts';

/**
 * One /v1/* request-response on its way out: owns its pending timer and its single outcome.
 * When the client goes away early, the pending step is cancelled at once (no generation continues
 * into a dead socket), the abort is counted, and nothing throws.
 */
export class Exchange {
  readonly res: ServerResponse;
  /** The requested model, once known (for per-model stats). */
  model: string | null = null;
  #stats: StatsRecorder;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;
  #intentional = false;
  #outcome = false;

  constructor(res: ServerResponse, stats: StatsRecorder) {
    this.res = res;
    this.#stats = stats;
    stats.received();
    res.on('close', () => {
      this.#closed = true;
      clearTimeout(this.#timer);
      if (this.#immediate) clearImmediate(this.#immediate);
      stats.finished();
      if (!this.#intentional && !res.writableFinished) {
        stats.clientAbort(this.model);
        this.outcome('client_abort');
      }
    });
  }

  /** The connection is gone (client abort, our reset, or close()). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Records the outcome, once: the first call wins. */
  outcome(outcome: Outcome): void {
    if (this.#outcome) return;
    this.#outcome = true;
    this.#stats.outcome(outcome, this.model);
  }

  /** Runs `step` after `ms`; synchronously when `ms` is 0 (timeScale 0: no timers at all). */
  after(ms: number, step: () => void): void {
    if (this.#closed) return;
    if (ms <= 0) {
      step();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) step();
    }, ms);
  }

  /** Runs `step` on the next turn of the event loop, so that writes leave as separate packets. */
  soon(step: () => void): void {
    if (this.#closed) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      if (!this.#closed) step();
    });
  }

  /** Sends a complete response. */
  send(status: number, headers: OutgoingHttpHeaders, body: string): void {
    if (this.#closed) return;
    headers['content-length'] = Buffer.byteLength(body);
    this.res.writeHead(status, headers);
    this.res.end(body);
  }

  /**
   * Closes the connection mid-body on purpose (a fault). A FIN, not an RST: bytes already written
   * must reach the client, and an RST can make the client's kernel discard unread data.
   */
  cut(): void {
    this.#intentional = true;
    this.res.socket?.destroy();
    this.res.destroy();
  }

  /** Destroys the socket on purpose (a fault), which the client sees as a connection reset. */
  reset(): void {
    this.#intentional = true;
    // An RST rather than a FIN: the client sees ECONNRESET, as when a pod or proxy dies.
    const socket = this.res.socket;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
    this.res.destroy();
  }
}
