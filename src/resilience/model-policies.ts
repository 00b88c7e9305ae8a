import { BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';
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
  /** Most models tracked at once (BREAKER_MAX_MODELS); the name is the client's and must not grow memory. */
  maxModels: number;
  clock: Clock;
  random: Random;
  /** Called on every breaker transition, for metrics and logs. */
  onBreakerState?: (model: string, state: BreakerState) => void;
}

/**
 * One breaker and one retry budget per requested model, so a dead model never slows the other.
 * Bounded, because the model name is the client's: when `maxModels` (BREAKER_MAX_MODELS) are
 * tracked, the policies that hold nothing worth keeping are forgotten: a closed breaker, no
 * request or retry in the budgets' window, nobody in the misroute queue. An open or half-open
 * breaker is never forgotten (issue 10): refused requests never reach a budget, so an open
 * breaker looks idle, and a flood of invented names would otherwise erase it and let the dead
 * model's traffic through again. A name that finds no room is served by a policy that is not
 * kept: a fresh breaker that reports nothing (its state dies with the request) and the retry
 * budgets that every such name shares, so an overflow of names cannot multiply the budgets'
 * per-second reserve.
 */
export class ModelPolicies {
  readonly #options: ModelPoliciesOptions;
  readonly #policies = new Map<string, ModelPolicy>();
  readonly #overflowBudget: RetryBudget;
  readonly #overflowMisrouteBudget: RetryBudget;

  constructor(options: ModelPoliciesOptions) {
    this.#options = options;
    this.#overflowBudget = new RetryBudget(options.budget, options.clock);
    this.#overflowMisrouteBudget = new RetryBudget(options.misrouteBudget, options.clock);
  }

  /** The policy for `model`, created on first use. */
  get(model: string): ModelPolicy {
    const known = this.#policies.get(model);
    if (known) return known;
    if (this.#policies.size >= this.#options.maxModels) this.#sweep();
    if (this.#policies.size >= this.#options.maxModels) return this.#overflow();
    const policy = this.#create(model);
    this.#policies.set(model, policy);
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

  #overflow(): ModelPolicy {
    const { clock, random } = this.#options;
    return {
      breaker: new CircuitBreaker(this.#options.breaker, clock, random),
      budget: this.#overflowBudget,
      misrouteBudget: this.#overflowMisrouteBudget,
      misrouteQueue: new MisrouteQueue(),
    };
  }

  #sweep(): void {
    for (const [model, policy] of this.#policies) {
      if (
        policy.breaker.state === BreakerState.closed &&
        policy.budget.idle &&
        policy.misrouteBudget.idle &&
        policy.misrouteQueue.length === 0
      )
        this.#policies.delete(model);
    }
  }
}
