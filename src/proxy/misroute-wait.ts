import type { MisrouteQueue, QueuePlace } from '../resilience/index.ts';

/**
 * How long an attempt may stay unanswered before the next waiter may poll. A misroute answers
 * in milliseconds (vLLM rejects the name before scheduling; the EPP and Envoy add a few ms), so
 * an attempt still out after this was accepted by a pod, and holding the turn through its whole
 * generation would let the queue drain one generation at a time.
 */
const HANDOFF_MS = 50;

/** What waiting for a turn to poll came to. */
export type Turn =
  /** Already the head: poll after the head's backoff. */
  | 'head'
  /** Just became the head after waiting: poll at once. */
  | 'promoted'
  | 'deadline'
  | 'aborted';

/** One request's use of its model's misroute queue (MisrouteQueue) across its attempts. */
export class MisrouteWait {
  #place: QueuePlace | undefined;
  #handoff: NodeJS.Timeout | undefined;
  /** Misses taken as the head: the exponent of its polling backoff. */
  headMisses = 0;

  /** Whether the request holds a place in its model's queue. */
  get queued(): boolean {
    return this.#place?.queued ?? false;
  }

  /** Joins the queue if not in it, and waits for this request's turn, the deadline or the client. */
  async turn(queue: MisrouteQueue, msLeft: number, signal: AbortSignal): Promise<Turn> {
    if (this.#place === undefined || !this.#place.queued) {
      this.#place = queue.enter();
      this.headMisses = 0;
    }
    const place = this.#place;
    if (place.atHead) {
      this.headMisses++;
      return 'head';
    }
    if (signal.aborted) return 'aborted';
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const outcome = await Promise.race<Turn>([
      place.turn.then((): Turn => 'promoted'),
      new Promise<Turn>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), Math.max(0, msLeft));
      }),
      new Promise<Turn>((resolve) => {
        onAbort = () => resolve('aborted');
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    if (outcome !== 'promoted') place.leave();
    return outcome;
  }

  /** An attempt is going out: if it is still unanswered after HANDOFF_MS, the next waiter may poll. */
  attemptStarted(): void {
    const place = this.#place;
    if (place === undefined || !place.queued) return;
    this.#handoff = setTimeout(() => place.leave(), HANDOFF_MS);
  }

  attemptEnded(): void {
    clearTimeout(this.#handoff);
  }

  /** The request is done: free its place, if it still holds one. */
  leave(): void {
    clearTimeout(this.#handoff);
    this.#place?.leave();
  }
}
