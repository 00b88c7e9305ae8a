import type { Clock } from './clock.ts';

/** Settings of a Finagle-style retry budget. */
export interface RetryBudgetOptions {
  /** Retries allowed per request over the window (Finagle's `percentCanRetry`, as a ratio). */
  ratio: number;
  /** Retries always allowed per second, so low traffic can still retry. */
  minPerSec: number;
  /** Sliding window length; Finagle's and Linkerd's default is 10 s. */
  windowMs?: number;
  /** Number of buckets the window is cut into; more is smoother and costs a little memory. */
  buckets?: number;
}

/**
 * Caps retries to `ratio` times the requests seen over a sliding window, plus `minPerSec` per
 * second of window (Finagle's RetryBudget). A retry withdraws when it is *decided*, before its
 * backoff sleep: Envoy's retry budget overshoots because it only counts retries already sent.
 */
export class RetryBudget {
  readonly #clock: Clock;
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #bucketMs: number;
  readonly #requests: Float64Array;
  readonly #retries: Float64Array;
  #requestSum = 0;
  #retrySum = 0;
  #bucket = 0;

  constructor(options: RetryBudgetOptions, clock: Clock) {
    const windowMs = options.windowMs ?? 10_000;
    const buckets = options.buckets ?? 10;
    this.#clock = clock;
    this.#ratio = options.ratio;
    this.#reserve = (options.minPerSec * windowMs) / 1000;
    this.#bucketMs = windowMs / buckets;
    this.#requests = new Float64Array(buckets);
    this.#retries = new Float64Array(buckets);
    this.#bucket = Math.floor(clock.now() / this.#bucketMs);
  }

  /** Counts a new client request (a deposit). */
  recordRequest(): void {
    const slot = this.#advance();
    this.#requests[slot] = (this.#requests[slot] ?? 0) + 1;
    this.#requestSum += 1;
  }

  /** Withdraws one retry if the budget allows it; `false` means the retry must not happen. */
  tryWithdraw(): boolean {
    const slot = this.#advance();
    if (this.#retrySum + 1 > this.#ratio * this.#requestSum + this.#reserve) return false;
    this.#retries[slot] = (this.#retries[slot] ?? 0) + 1;
    this.#retrySum += 1;
    return true;
  }

  /** True when nothing was recorded in the current window (the budget can be forgotten). */
  get idle(): boolean {
    this.#advance();
    return this.#requestSum === 0 && this.#retrySum === 0;
  }

  /** Moves the window to now, clearing buckets that slid out; returns the current bucket's slot. */
  #advance(): number {
    const size = this.#requests.length;
    const bucket = Math.floor(this.#clock.now() / this.#bucketMs);
    const stale = Math.min(size, bucket - this.#bucket);
    for (let i = 1; i <= stale; i++) {
      const slot = (this.#bucket + i) % size;
      this.#requestSum -= this.#requests[slot] ?? 0;
      this.#retrySum -= this.#retries[slot] ?? 0;
      this.#requests[slot] = 0;
      this.#retries[slot] = 0;
    }
    if (bucket > this.#bucket) this.#bucket = bucket;
    return this.#bucket % size;
  }
}
