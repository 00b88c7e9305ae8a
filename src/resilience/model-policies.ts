import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';
import type { Clock, Random } from './clock.ts';
import { MisrouteQueue } from './misroute-queue.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';

/** The resilience state kept for one requested model. */
export interface ModelPolicy {
  readonly breaker: CircuitBreaker;
  /** Retries after overload or failure (the `unavailable` class). */
  readonly budget: RetryBudget;
  /** Retries after routing misses, which cost the gateway milliseconds and no GPU time. */
  readonly misrouteBudget: RetryBudget;
  /** Requests waiting out a persistent routing miss, first come, first served. */
  readonly misrouteQueue: MisrouteQueue;
}

export interface ModelPoliciesOptions {
  breaker: CircuitBreakerOptions;
  budget: RetryBudgetOptions;
  misrouteBudget: RetryBudgetOptions;
  /** Most models tracked at once; the model name is client-controlled and must not grow memory. */
  maxModels: number;
  clock: Clock;
  random: Random;
  /** Called on every breaker transition, for metrics and logs. */
  onBreakerState?: (model: string, state: BreakerState) => void;
}

/**
 * One breaker and one retry budget per requested model, so a dead model never slows the other.
 * Bounded: when `maxModels` are tracked, the policies of models without a request in the budget's
 * window are forgotten (the model name is the client's: a flood of invented names that each
 * failed once must not pin the table); if none can be, the request gets a fresh policy that is
 * not kept. Forgetting an idle open breaker costs at most `failureThreshold` requests to reopen.
 */
export class ModelPolicies {
  readonly #options: ModelPoliciesOptions;
  readonly #policies = new Map<string, ModelPolicy>();

  constructor(options: ModelPoliciesOptions) {
    this.#options = options;
  }

  /** The policy for `model`, created on first use. */
  get(model: string): ModelPolicy {
    const known = this.#policies.get(model);
    if (known) return known;
    const policy = this.#create(model);
    if (this.#policies.size >= this.#options.maxModels) this.#sweep();
    if (this.#policies.size < this.#options.maxModels) this.#policies.set(model, policy);
    return policy;
  }

  /** Models currently tracked (for tests and the admin view). */
  get size(): number {
    return this.#policies.size;
  }

  #create(model: string): ModelPolicy {
    const { clock, random, onBreakerState } = this.#options;
    const notify = onBreakerState ? (state: BreakerState) => onBreakerState(model, state) : undefined;
    return {
      breaker: new CircuitBreaker(this.#options.breaker, clock, random, notify),
      budget: new RetryBudget(this.#options.budget, clock),
      misrouteBudget: new RetryBudget(this.#options.misrouteBudget, clock),
      misrouteQueue: new MisrouteQueue(),
    };
  }

  #sweep(): void {
    for (const [model, policy] of this.#policies) {
      if (policy.budget.idle) this.#policies.delete(model);
    }
  }
}
