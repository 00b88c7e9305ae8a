import type { Admission, ModelPolicy } from '../resilience/index.ts';

/** The breaker verdict of one request: given at most once, whichever path ends the request. */
export class BreakerTicket {
  #policy: ModelPolicy | undefined;
  #admission: Admission | undefined;

  hold(policy: ModelPolicy, admission: Admission): void {
    this.#policy = policy;
    this.#admission = admission;
  }

  settle(verdict: 'success' | 'failure' | 'abandon'): void {
    const policy = this.#policy;
    const admission = this.#admission;
    if (policy === undefined || admission === undefined) return;
    this.#policy = undefined;
    if (verdict === 'success') policy.breaker.onSuccess(admission);
    else if (verdict === 'failure') policy.breaker.onFailure(admission);
    else policy.breaker.onAbandon(admission);
  }
}
