import type { ProxyObserver } from '../events.ts';
import { BreakerState } from '../resilience/index.ts';
import type { Logger } from './logger.ts';

const STATE_NAMES = {
  [BreakerState.closed]: 'closed',
  [BreakerState.halfOpen]: 'half-open',
  [BreakerState.open]: 'open',
};

/**
 * One log line per request (info when answered, warn when backstop gave up), plus breaker
 * transitions. Headers are never logged, Authorization least of all.
 */
export function createLogObserver(logger: Logger): ProxyObserver {
  return {
    requestStarted() {},
    attemptEnded() {},
    requestEnded(r) {
      const failed = r.outcome !== 'ok' && r.outcome !== 'client_error' && r.outcome !== 'bad_request';
      const level =
        failed && r.outcome !== 'client_closed' && r.outcome !== 'model_not_allowed' ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          reqId: r.id,
          method: r.method,
          path: r.path,
          model: r.model,
          stream: r.stream,
          attempts: r.results.length,
          results: r.results,
          // Where each attempt went; `direct` is a model's MODEL_ENDPOINTS URL (issue 11).
          upstreams: r.upstreams,
          status: r.status,
          outcome: r.outcome,
          durationMs: Math.round(r.durationMs * 10) / 10,
          ttftMs: r.ttftMs === undefined ? undefined : Math.round(r.ttftMs * 10) / 10,
          detail: r.detail,
        },
        'request',
      );
    },
    breakerChanged(model, state, upstream = 'gateway') {
      logger.warn({ model, upstream, state: STATE_NAMES[state] }, 'circuit breaker state changed');
    },
    // The request's own warn line (outcome `budget_exhausted`) already says it, with its id.
    budgetExhausted() {},
  };
}
