import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ProxyObserver, RequestRecord, Upstream } from '../events.ts';
import { BreakerState } from '../resilience/index.ts';
import type { AttemptResult } from '../verify/index.ts';
import { HotCounter, HotGauge, HotHistogram } from './hot-series.ts';
import { ModelLabels } from './model-label.ts';
import { ServedModels } from './served-model.ts';

/** Seconds; LLM answers take from tens of milliseconds (errors, embeddings) to minutes (long generations). */
const LATENCY_BUCKETS = [
  0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120,
];
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** What an upstream pool says about its sockets (undici's `Pool.stats`). */
export interface PoolSockets {
  readonly connected: number;
  readonly free: number;
  readonly running: number;
  readonly queued: number;
}

/** The pools to report at each scrape, by where they lead. */
export type PoolSource = () => Iterable<{ upstream: Upstream; stats: PoolSockets }>;

export interface MetricsOptions {
  version: string;
  /** backstop_upstream_connections reads these at scrape time; none when absent. */
  pools?: PoolSource;
  /** MODELS, when set: the only model label values besides `other` and `none`. */
  models: ReadonlySet<string> | undefined;
  maxModels: number;
}

/**
 * backstop's Prometheus metrics, in a registry of its own (no global state shared with a host
 * app). Names and labels are public interface, documented in docs/observability.md (Metrics).
 * It is a ProxyObserver: the proxy emits events, this turns them into series.
 */
export class Metrics implements ProxyObserver {
  readonly registry = new Registry();
  readonly #labels: ModelLabels;
  readonly #requests: HotCounter;
  readonly #attempts: HotCounter;
  readonly #misroutes: Counter<'model' | 'served_model'>;
  readonly #served: ServedModels;
  readonly #attemptsPerRequest: HotHistogram;
  readonly #duration: HotHistogram;
  readonly #ttft: HotHistogram;
  readonly #inflight: HotGauge;
  readonly #circuit: Gauge<'model'>;
  readonly #budgetExhausted: Counter<'model'>;
  /** Label values whose breaker gauge was initialised to closed. */
  readonly #known = new Set<string>();
  /** The models labelled `other` whose breaker is not closed, with its state. */
  readonly #otherBreakers = new Map<string, number>();

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    this.#labels = new ModelLabels(options.models, options.maxModels);
    this.#served = new ServedModels(options.models, options.maxModels);
    collectDefaultMetrics({ register: this.registry, prefix: 'backstop_' });
    new Gauge({
      name: 'backstop_build_info',
      help: 'Always 1; the version label says which backstop is running.',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version }, 1);
    const registry = this.registry;
    this.#requests = new HotCounter({
      name: 'backstop_requests_total',
      help: 'Client requests by requested model and how they ended.',
      labelNames: ['model', 'outcome'],
      registry,
    });
    this.#attempts = new HotCounter({
      name: 'backstop_attempts_total',
      help: 'Upstream attempts by requested model, result and upstream (gateway or direct).',
      labelNames: ['model', 'result', 'upstream'],
      registry,
    });
    this.#misroutes = new Counter({
      name: 'backstop_misroutes_total',
      help: 'Routing misses (model_not_found, model_mismatch) by requested model and the model that answered (unknown when none can be told).',
      labelNames: ['model', 'served_model'],
      registers,
    });
    this.#attemptsPerRequest = new HotHistogram({
      name: 'backstop_request_attempts',
      help: 'Upstream attempts per forwarded request; average = rate(_sum) / rate(_count).',
      labelNames: ['model'],
      buckets: ATTEMPT_BUCKETS,
      registry,
    });
    this.#duration = new HotHistogram({
      name: 'backstop_request_duration_seconds',
      help: 'Time from request arrival to the last byte of the answer.',
      labelNames: ['model', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.#ttft = new HotHistogram({
      name: 'backstop_time_to_first_token_seconds',
      help: 'Time from request arrival until the verified first byte of the answer went to the client.',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.#inflight = new HotGauge({
      name: 'backstop_inflight_requests',
      help: 'Client requests being handled now.',
      labelNames: ['model'],
      registry,
    });
    this.#circuit = new Gauge({
      name: 'backstop_circuit_state',
      help: 'Circuit breaker state per requested model: 0 closed, 1 half-open, 2 open.',
      labelNames: ['model'],
      registers,
    });
    const pools = options.pools;
    if (pools !== undefined) {
      new Gauge({
        name: 'backstop_upstream_connections',
        help: 'Upstream pool sockets and requests at scrape time, by upstream (gateway, or the sum of the direct endpoints) and state: connected (open sockets), free (open and idle), running (requests on a socket), queued (requests waiting for one).',
        labelNames: ['upstream', 'state'],
        registers,
        // Read when scraped: the request path pays nothing for it.
        collect() {
          this.reset();
          for (const { upstream, stats } of pools()) {
            this.inc({ upstream, state: 'connected' }, stats.connected);
            this.inc({ upstream, state: 'free' }, stats.free);
            this.inc({ upstream, state: 'running' }, stats.running);
            this.inc({ upstream, state: 'queued' }, stats.queued);
          }
        },
      });
    }
    this.#budgetExhausted = new Counter({
      name: 'backstop_retry_budget_exhausted_total',
      help: 'Failed attempts not retried because the model retry budget was spent.',
      labelNames: ['model'],
      registers,
    });
  }

  requestStarted(model: string): void {
    const label = this.#labels.label(model);
    if (!this.#known.has(label)) {
      // Dashboards plot the breaker of every model seen, not only of those that ever tripped.
      this.#known.add(label);
      if (label !== 'none') {
        this.#circuit.set({ model: label }, 0);
        // Exported at 0 from the model's first request: a counter series that only appears with
        // its first increment hides that increment from increase(), so BackstopRetryBudgetExhausted
        // would miss the first burst of refusals.
        this.#budgetExhausted.inc({ model: label }, 0);
      }
    }
    this.#inflight.add(1, label);
  }

  attemptEnded(
    model: string,
    result: AttemptResult,
    servedModel?: string,
    upstream: Upstream = 'gateway',
  ): void {
    const label = this.#labels.label(model);
    this.#attempts.inc(label, result, upstream);
    const served = this.#served.observe(model, result, servedModel);
    if (served !== undefined) this.#misroutes.inc({ model: label, served_model: served });
  }

  requestEnded(record: RequestRecord): void {
    const model = this.#labels.label(record.model);
    this.#inflight.add(-1, model);
    this.#requests.inc(model, record.outcome);
    this.#duration.observe(record.durationMs / 1000, model, record.outcome);
    // Requests refused before forwarding (bad input, not allowed) made no attempt decision.
    if (record.outcome !== 'bad_request' && record.outcome !== 'model_not_allowed') {
      this.#attemptsPerRequest.observe(record.results.length, model);
    }
    if (record.ttftMs !== undefined && record.results.at(-1) === 'ok')
      this.#ttft.observe(record.ttftMs / 1000, model);
  }

  breakerChanged(model: string, state: number, upstream: Upstream = 'gateway'): void {
    // backstop_circuit_state is the gateway's breaker, which the alerts and runbooks are about; a
    // direct endpoint's breaker shows in the log line and in backstop_attempts_total{upstream}.
    if (upstream !== 'gateway') return;
    const label = this.#labels.label(model);
    if (label !== 'other') {
      this.#circuit.set({ model: label }, state);
      return;
    }
    // `other` stands for many models: it shows the worst of their breakers (2 while any is open),
    // not whichever changed last, which let one recovering model hide another's open breaker from
    // BackstopCircuitOpen (issue 10). Closed ones are dropped, so this holds only open and
    // half-open breakers, which ModelPolicies keeps (BREAKER_MAX_MODELS bounds them).
    if (state === BreakerState.closed) this.#otherBreakers.delete(model);
    else this.#otherBreakers.set(model, state);
    let worst: number = BreakerState.closed;
    for (const other of this.#otherBreakers.values()) worst = Math.max(worst, other);
    this.#circuit.set({ model: 'other' }, worst);
  }

  budgetExhausted(model: string): void {
    this.#budgetExhausted.inc({ model: this.#labels.label(model) });
  }

  /** The exposition text for `/metrics`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
