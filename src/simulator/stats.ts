import type { IncomingHttpHeaders } from 'node:http';
import type { FaultName } from './faults.ts';
import type { VllmPod } from './vllm-pod.ts';

/** How a request to /v1/* ended. Exactly one per request, recorded when it is decided. */
export const OUTCOMES = [
  'served',
  'listed',
  'misrouted_404',
  'wrong_model_200',
  'no_backend_503',
  'bad_request',
  'unknown_model',
  'not_found',
  'reset',
  'reset_mid_stream',
  'hang',
  'rate_limited',
  'garbage_json',
  'truncated_sse',
  'oversized_json',
  'in_band_error',
  'no_healthy_upstream',
  'queue_ttl_503',
  'queue_full_429',
  'client_abort',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Counters for one requested model. */
export interface ModelStats {
  received: number;
  served: number;
  misrouted404: number;
  wrongModel200: number;
  noBackend503: number;
  badRequest: number;
  faults: Partial<Record<FaultName, number>>;
  clientAborts: number;
}

/** What the endpoint picker did with one model's pod. */
export interface PodStats {
  /** Requests the picker sent to this pod. */
  picks: number;
  /** Of those, requests for another model (the pod answered 404, or 200 as itself). */
  misroutes: number;
  /** Sequences generating now (at most maxNumSeqs). */
  running: number;
  /** Requests waiting for a sequence slot now. */
  queueDepth: number;
  /** The deepest the queue has been since the last reset. */
  maxQueueDepth: number;
}

/** What the simulator saw of one request: evidence for tests of header handling. */
export interface RecentRequest {
  method: string;
  path: string;
  /** The requested model, or null when the body had none (or was not JSON). */
  model: string | null;
  stream: boolean;
  requestId: string | null;
  /** Whether an Authorization header arrived (its value is not kept). */
  authorization: boolean;
  host: string | null;
  /** All other request headers as received (authorization removed). */
  headers: Record<string, string | string[] | undefined>;
}

/** The body of GET /sim/stats. */
export interface SimStats {
  /** Every request to /v1/*. */
  received: number;
  byModel: Record<string, ModelStats>;
  /** Per pod (keyed by the model it serves): what the endpoint picker did. */
  pods: Record<string, PodStats>;
  outcomes: Record<Outcome, number>;
  /** SSE 200 responses whose headers were sent. */
  streamsStarted: number;
  /** SSE responses that wrote `data: [DONE]` and ended. */
  streamsCompleted: number;
  /** Requests whose client closed the connection before the response was complete. */
  clientAborts: number;
  /** /v1/* requests not yet finished (a gauge: reset leaves it alone). */
  inflight: number;
  /** The last RECENT_LIMIT /v1/* requests, oldest first. */
  recent: RecentRequest[];
}

export const RECENT_LIMIT = 100;

const emptyModel = (): ModelStats => ({
  received: 0,
  served: 0,
  misrouted404: 0,
  wrongModel200: 0,
  noBackend503: 0,
  badRequest: 0,
  faults: {},
  clientAborts: 0,
});

const MODEL_FIELD: Partial<
  Record<Outcome, 'served' | 'misrouted404' | 'wrongModel200' | 'noBackend503' | 'badRequest'>
> = {
  served: 'served',
  misrouted_404: 'misrouted404',
  wrong_model_200: 'wrongModel200',
  no_backend_503: 'noBackend503',
  bad_request: 'badRequest',
};

// byModel entries for names no backend serves are capped, so a client sending random names cannot grow it.
const MAX_MODELS = 256;

/** The simulator's counters. Mutated by the server; `snapshot()` returns a detached copy. */
export class StatsRecorder {
  #stats: SimStats;
  readonly #models: readonly string[];
  readonly #pods: () => ReadonlyMap<string, VllmPod>;

  constructor(models: readonly string[], pods: () => ReadonlyMap<string, VllmPod> = () => new Map()) {
    this.#models = models;
    this.#pods = pods;
    this.#stats = this.#empty(0);
  }

  #empty(inflight: number): SimStats {
    return {
      received: 0,
      byModel: Object.fromEntries(this.#models.map((m) => [m, emptyModel()])),
      pods: Object.fromEntries(
        this.#models.map((m) => [m, { picks: 0, misroutes: 0, running: 0, queueDepth: 0, maxQueueDepth: 0 }]),
      ),
      outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
      streamsStarted: 0,
      streamsCompleted: 0,
      clientAborts: 0,
      inflight,
      recent: [],
    };
  }

  #model(model: string | null): ModelStats | undefined {
    if (model === null) return undefined;
    let entry = this.#stats.byModel[model];
    if (entry === undefined && Object.keys(this.#stats.byModel).length < MAX_MODELS) {
      entry = emptyModel();
      this.#stats.byModel[model] = entry;
    }
    return entry;
  }

  /** A /v1/* request arrived (before its body is read). */
  received(): void {
    this.#stats.received++;
    this.#stats.inflight++;
  }

  /** A /v1/* request's response finished or its connection closed. */
  finished(): void {
    this.#stats.inflight--;
  }

  /** Records who asked for what, once the body is parsed. */
  observe(
    method: string,
    path: string,
    model: string | null,
    stream: boolean,
    headers: IncomingHttpHeaders,
  ): void {
    const { authorization, ...rest } = headers;
    const requestId = headers['x-request-id'];
    this.#stats.recent.push({
      method,
      path,
      model,
      stream,
      requestId: typeof requestId === 'string' ? requestId : null,
      authorization: authorization !== undefined,
      host: headers.host ?? null,
      headers: rest,
    });
    if (this.#stats.recent.length > RECENT_LIMIT) this.#stats.recent.shift();
    const entry = this.#model(model);
    if (entry) entry.received++;
  }

  outcome(outcome: Outcome, model: string | null): void {
    this.#stats.outcomes[outcome]++;
    const field = MODEL_FIELD[outcome];
    const entry = field ? this.#model(model) : undefined;
    if (entry && field) entry[field]++;
  }

  fault(fault: FaultName, model: string): void {
    const entry = this.#model(model);
    if (entry) entry.faults[fault] = (entry.faults[fault] ?? 0) + 1;
  }

  clientAbort(model: string | null): void {
    this.#stats.clientAborts++;
    const entry = this.#model(model);
    if (entry) entry.clientAborts++;
  }

  /** The picker sent a request to `pod`; `misrouted` when it was for another model. */
  picked(pod: string, misrouted: boolean): void {
    const entry = this.#stats.pods[pod];
    if (entry === undefined) return;
    entry.picks++;
    if (misrouted) entry.misroutes++;
  }

  /** A request joined `pod`'s queue, which is now `depth` deep. */
  queued(pod: string, depth: number): void {
    const entry = this.#stats.pods[pod];
    if (entry !== undefined && depth > entry.maxQueueDepth) entry.maxQueueDepth = depth;
  }

  streamStarted(): void {
    this.#stats.streamsStarted++;
  }

  streamCompleted(): void {
    this.#stats.streamsCompleted++;
  }

  /** Zeroes every counter but `inflight`. */
  reset(): void {
    this.#stats = this.#empty(this.#stats.inflight);
  }

  /** A detached copy, safe to keep and compare. */
  snapshot(): SimStats {
    const copy = structuredClone(this.#stats);
    for (const [name, pod] of this.#pods()) {
      const entry = copy.pods[name];
      if (entry === undefined) continue;
      entry.running = pod.running;
      entry.queueDepth = pod.waiting;
    }
    return copy;
  }
}
