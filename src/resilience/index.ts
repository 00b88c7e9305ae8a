export {
  type BackoffOptions,
  backoffDelay,
  type MisrouteBackoffOptions,
  misrouteDelay,
  parseRetryAfter,
} from './backoff.ts';
export {
  type Admission,
  BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from './circuit-breaker.ts';
export { type Clock, type Random, systemClock } from './clock.ts';
export { MisrouteQueue, type QueuePlace } from './misroute-queue.ts';
export { ModelPolicies, type ModelPoliciesOptions, type ModelPolicy } from './model-policies.ts';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
export { MAX_ROUTES, RouteBudgets, type RouteBudgetsOptions } from './route-budgets.ts';
