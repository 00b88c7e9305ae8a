import type { Clock } from './clock.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';

/** Routes with a retry budget of their own; the rest share one (see RouteBudgets). */
export const MAX_ROUTES = 64;

export interface RouteBudgetsOptions {
  budget: RetryBudgetOptions;
  /** Most routes with a budget of their own; defaults to MAX_ROUTES. */
  maxRoutes?: number;
  clock: Clock;
}

/**
 * One retry budget per route for requests that name no model (`GET /v1/models` and the other
 * pass-through GETs): without one, every poller could retry RETRY_MAX_ATTEMPTS times during an
 * outage (issue 10). Routes are few, but the path is the client's (`/v1/models/<anything>`), so
 * at most `maxRoutes` are kept: when full, routes without a request or retry in the window are
 * forgotten, and a route that still finds no room draws from the budget all such routes share.
 */
export class RouteBudgets {
  readonly #options: RouteBudgetsOptions;
  readonly #max: number;
  readonly #budgets = new Map<string, RetryBudget>();
  readonly #overflow: RetryBudget;

  constructor(options: RouteBudgetsOptions) {
    this.#options = options;
    this.#max = options.maxRoutes ?? MAX_ROUTES;
    this.#overflow = new RetryBudget(options.budget, options.clock);
  }

  /** The budget for `route`, created on first use. */
  get(route: string): RetryBudget {
    const known = this.#budgets.get(route);
    if (known) return known;
    if (this.#budgets.size >= this.#max) {
      for (const [key, budget] of this.#budgets) if (budget.idle) this.#budgets.delete(key);
    }
    if (this.#budgets.size >= this.#max) return this.#overflow;
    const budget = new RetryBudget(this.#options.budget, this.#options.clock);
    this.#budgets.set(route, budget);
    return budget;
  }
}
