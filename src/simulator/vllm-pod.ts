import type { Exchange } from './exchange.ts';

/** A request waiting for one of a pod's sequence slots. */
interface Waiter {
  ex: Exchange;
  start: () => void;
  timer: NodeJS.Timeout | undefined;
}

/** How a pod took a request. */
export type Admission = 'running' | 'queued' | 'queue_full';

/** Flow control as the EPP applies it when its `flowControl` gate is on. */
export interface QueuePolicy {
  /** Most requests waiting per pod; one more is refused (429). */
  maxQueue: number;
  /** Longest wait in scaled ms before the request is evicted (503); 0 waits until the client leaves. */
  ttlMs: number;
  onExpired: (ex: Exchange) => void;
}

/**
 * One model's vLLM pod: at most `maxNumSeqs` sequences generate at once (vLLM `--max-num-seqs`),
 * the rest wait in FIFO order, so a queued request's time to first token includes its wait. A
 * sequence holds its slot until its response ends or its client leaves. The pod's `load`
 * (running + waiting) is what the endpoint picker's queue and KV-cache scorers see.
 * A request for another model never takes a slot: vLLM's API server rejects the name first.
 */
export class VllmPod {
  readonly model: string;
  #running = 0;
  readonly #waiting: Waiter[] = [];

  constructor(model: string) {
    this.model = model;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  get load(): number {
    return this.#running + this.#waiting.length;
  }

  /** Runs `start` now when a slot is free (and nobody waits), else queues it. */
  admit(ex: Exchange, start: () => void, maxNumSeqs: number, policy: QueuePolicy | null): Admission {
    if (this.#running < maxNumSeqs && this.#waiting.length === 0) {
      this.#run(ex, start, maxNumSeqs);
      return 'running';
    }
    if (policy !== null && this.#waiting.length >= policy.maxQueue) return 'queue_full';
    const waiter: Waiter = { ex, start, timer: undefined };
    this.#waiting.push(waiter);
    // A client that gives up while queued frees its place at once.
    ex.res.once('close', () => this.#drop(waiter, maxNumSeqs));
    if (policy !== null && policy.ttlMs > 0) {
      waiter.timer = setTimeout(() => {
        waiter.timer = undefined;
        if (this.#remove(waiter)) policy.onExpired(ex);
      }, policy.ttlMs);
    }
    return 'queued';
  }

  #run(ex: Exchange, start: () => void, maxNumSeqs: number): void {
    this.#running++;
    ex.res.once('close', () => {
      this.#running--;
      this.#next(maxNumSeqs);
    });
    start();
  }

  #next(maxNumSeqs: number): void {
    while (this.#running < maxNumSeqs) {
      const waiter = this.#waiting.shift();
      if (waiter === undefined) return;
      clearTimeout(waiter.timer);
      if (!waiter.ex.closed) this.#run(waiter.ex, waiter.start, maxNumSeqs);
    }
  }

  #drop(waiter: Waiter, maxNumSeqs: number): void {
    if (this.#remove(waiter)) {
      clearTimeout(waiter.timer);
      this.#next(maxNumSeqs);
    }
  }

  #remove(waiter: Waiter): boolean {
    const index = this.#waiting.indexOf(waiter);
    if (index < 0) return false;
    this.#waiting.splice(index, 1);
    return true;
  }
}
