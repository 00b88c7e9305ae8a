import type { ProxyObserver, Upstream } from '../events.ts';
import type { AttemptResult } from '../verify/index.ts';
import type { Logger } from './logger.ts';
import { ModelLabels } from './model-label.ts';
import { ServedModels } from './served-model.ts';

/** A model's share of routing misses among its attempts in one interval that is worth a warning. */
export const MISROUTE_WARN_SHARE = 0.1;
/** And the fewest misses in the interval: a few misses of a trickle of traffic are no pattern. */
export const MISROUTE_WARN_MIN = 10;

/** The message of the warning line, stable for log queries. */
export const MISROUTE_WARNING = 'the gateway keeps sending this model to pods that serve another';

const CAUSE =
  'one InferencePool whose pods serve several models, behind an endpoint picker that scores pods by load and ignores `model`';

export interface MisrouteWarningOptions {
  /** MISROUTE_WARN_INTERVAL_MS: the window judged, and the least time between two lines for a model. */
  intervalMs: number;
  /** Milliseconds, any monotonic origin. */
  now: () => number;
  logger: Pick<Logger, 'warn'>;
  /** MODELS and METRICS_MAX_MODELS: the bound on the models tracked, as on the `model` label. */
  models: ReadonlySet<string> | undefined;
  maxModels: number;
  /** The routing header backstop sends, or undefined with ROUTING_HEADERS off: the fix names it. */
  routingHeader: string | undefined;
}

/** One model's attempts in the current window. */
interface Window {
  startedAt: number;
  attempts: number;
  misroutes: number;
  /** served_model label -> misroutes it answered. */
  answeredBy: Map<string, number>;
}

/**
 * Says once per interval and model, at `warn`, that a model's routing misses persist, with the
 * likely cause and the fix: a count in a metric says attempts are high, not why (issue 11). Each
 * model's attempts are counted in windows of at least `intervalMs`; a window is judged when the
 * model's first attempt after it ends, and warns when at least MISROUTE_WARN_SHARE of its attempts,
 * and at least MISROUTE_WARN_MIN, were routing misses. So a model misrouted all along gets one
 * line per interval, however many requests it serves; a model without traffic gets none.
 */
export class MisrouteWarning implements ProxyObserver {
  readonly #options: MisrouteWarningOptions;
  readonly #labels: ModelLabels;
  readonly #served: ServedModels;
  readonly #windows = new Map<string, Window>();
  readonly #fix: string;

  constructor(options: MisrouteWarningOptions) {
    this.#options = options;
    this.#labels = new ModelLabels(options.models, options.maxModels);
    this.#served = new ServedModels(options.models, options.maxModels);
    const header = options.routingHeader;
    const routes = `one InferencePool per model, with labels that do not overlap, and HTTPRoute rules matching ${header ?? 'X-Gateway-Model-Name'} to each pool (deploy/examples/pattern2-fixed)`;
    const first =
      header === undefined
        ? `turn ROUTING_HEADERS on and give the gateway ${routes}`
        : `give the gateway ${routes}: backstop sends that header already`;
    this.#fix = `${first}; where the pool cannot change, send the model to its own vLLM Service directly (MODEL_ENDPOINTS, docs/resilience.md#direct-fallback). Runbook: docs/runbooks/BackstopHighAverageAttempts.md`;
  }

  requestStarted(): void {}

  attemptEnded(model: string, result: AttemptResult, servedModel?: string, upstream?: Upstream): void {
    // The warning is about the gateway's pool; a model's own endpoint is not routed by a picker.
    if (model === '' || upstream === 'direct') return;
    const label = this.#labels.label(model);
    const served = this.#served.observe(model, result, servedModel);
    const now = this.#options.now();
    let window = this.#windows.get(label);
    if (window === undefined || now - window.startedAt >= this.#options.intervalMs) {
      if (window !== undefined) this.#judge(label, window, now);
      window = { startedAt: now, attempts: 0, misroutes: 0, answeredBy: new Map() };
      this.#windows.set(label, window);
    }
    window.attempts++;
    if (served !== undefined) {
      window.misroutes++;
      window.answeredBy.set(served, (window.answeredBy.get(served) ?? 0) + 1);
    }
  }

  requestEnded(): void {}
  breakerChanged(): void {}
  budgetExhausted(): void {}

  #judge(model: string, w: Window, now: number): void {
    if (w.misroutes < MISROUTE_WARN_MIN || w.misroutes < MISROUTE_WARN_SHARE * w.attempts) return;
    const answeredBy = Object.fromEntries([...w.answeredBy].sort((a, b) => b[1] - a[1]));
    this.#options.logger.warn(
      {
        model,
        misroutes: w.misroutes,
        attempts: w.attempts,
        share: Math.round((w.misroutes / w.attempts) * 100) / 100,
        windowMs: Math.round(now - w.startedAt),
        answeredBy,
        cause: CAUSE,
        fix: this.#fix,
      },
      MISROUTE_WARNING,
    );
  }
}
