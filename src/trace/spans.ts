import {
  type Attributes,
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapSetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { RequestRecord, Upstream } from '../events.ts';
import type { AttemptOutcome } from '../proxy/attempt.ts';
import { SseFirstEvent } from '../verify/index.ts';
import { answerFieldsOf } from './answer-fields.ts';
import {
  ATTR_BACKSTOP_ATTEMPT,
  ATTR_BACKSTOP_ATTEMPTS,
  ATTR_BACKSTOP_BACKOFF_MS,
  ATTR_BACKSTOP_OUTCOME,
  ATTR_BACKSTOP_REQUEST_ID,
  ATTR_BACKSTOP_TTFT_MS,
  ATTR_BACKSTOP_UPSTREAM,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  EVENT_FIRST_BYTE,
  OPERATIONS,
} from './attributes.ts';
import type { AttemptTrace, RequestTrace } from './types.ts';

/** Where attempts go, for `server.address` and `server.port`. */
export interface TraceTargets {
  gateway: URL;
  /** Each model's own endpoint (MODEL_ENDPOINTS). */
  endpoints: ReadonlyMap<string, URL>;
}

/** Routes named in span names and `http.route`; others are named by their method only. */
const NAMED_ROUTES = new Set([...OPERATIONS.keys(), '/v1/models']);

/** Outcomes that are backstop's or the upstream's failure, not the client's: `error.type`. */
const FAILED: ReadonlySet<string> = new Set([
  'retries_exhausted',
  'budget_exhausted',
  'upstream_timeout',
  'circuit_open',
  'stream_error',
  'internal_error',
  'client_closed',
]);

const headerSetter: TextMapSetter<Record<string, string | string[]>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Longest span status message: a `detail` may quote an upstream's answer (a served model name). */
const MAX_STATUS_MESSAGE = 256;

/** `detail`, cut to MAX_STATUS_MESSAGE characters. */
function statusMessage(detail: string | undefined): string | undefined {
  return detail === undefined || detail.length <= MAX_STATUS_MESSAGE
    ? detail
    : detail.slice(0, MAX_STATUS_MESSAGE);
}

/** Where a bug in the tracing code goes, so that it never reaches the request path. */
export type TraceErrorHandler = (error: unknown, requestId: string | undefined) => void;

/** The SERVER span of one client request, and the parent of its attempts' spans. */
export class OtelRequestTrace implements RequestTrace {
  #operation: string | undefined;
  #model: string | undefined;
  #open: OtelAttemptTrace | undefined;
  readonly tracer: Tracer;
  readonly propagator: W3CTraceContextPropagator;
  readonly targets: TraceTargets;
  readonly method: string;
  readonly span: Span;
  /** The request's context: the parent of its attempts' spans. */
  readonly context: Context;
  readonly onError: TraceErrorHandler;

  constructor(
    tracer: Tracer,
    propagator: W3CTraceContextPropagator,
    targets: TraceTargets,
    method: string,
    span: Span,
    context: Context,
    onError: TraceErrorHandler,
  ) {
    this.tracer = tracer;
    this.propagator = propagator;
    this.targets = targets;
    this.method = method;
    this.span = span;
    this.context = context;
    this.onError = onError;
  }

  routed(route: string, model: string | undefined): void {
    this.#model = model;
    this.#operation = OPERATIONS.get(route);
    if (NAMED_ROUTES.has(route)) {
      this.span.updateName(`${this.method} ${route}`);
      this.span.setAttribute(ATTR_HTTP_ROUTE, route);
    }
    if (this.#operation !== undefined) this.span.setAttribute(ATTR_GEN_AI_OPERATION_NAME, this.#operation);
    if (model !== undefined) this.span.setAttribute(ATTR_GEN_AI_REQUEST_MODEL, model);
  }

  attemptStarted(attempt: number, upstream: Upstream, backoffMs: number): AttemptTrace {
    this.#open?.end();
    const target =
      upstream === 'direct' && this.#model !== undefined
        ? (this.targets.endpoints.get(this.#model) ?? this.targets.gateway)
        : this.targets.gateway;
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: this.method,
      [ATTR_SERVER_ADDRESS]: target.hostname,
      [ATTR_SERVER_PORT]: portOf(target),
      [ATTR_BACKSTOP_ATTEMPT]: attempt,
      [ATTR_BACKSTOP_UPSTREAM]: upstream,
      [ATTR_BACKSTOP_BACKOFF_MS]: Math.round(backoffMs),
    };
    if (this.#operation !== undefined) attributes[ATTR_GEN_AI_OPERATION_NAME] = this.#operation;
    if (this.#model !== undefined) attributes[ATTR_GEN_AI_REQUEST_MODEL] = this.#model;
    // The GenAI conventions' client span name: `{operation} {model}`; HTTP's otherwise.
    const name =
      this.#operation !== undefined && this.#model !== undefined
        ? `${this.#operation} ${this.#model}`
        : this.method;
    const span = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, this.context);
    this.#open = new OtelAttemptTrace(span, trace.setSpan(this.context, span), this.propagator, this.onError);
    return this.#open;
  }

  firstByte(): void {
    this.span.addEvent(EVENT_FIRST_BYTE);
  }

  ended(record: RequestRecord): void {
    try {
      this.#end(record);
    } catch (error) {
      this.onError(error, record.id);
    }
  }

  #end(record: RequestRecord): void {
    // An attempt left open by a bug still ends, with its request.
    this.#open?.end();
    const span = this.span;
    // A request the sampler dropped: nothing is recorded, so nothing is worth computing.
    if (!span.isRecording()) {
      span.end();
      return;
    }
    span.setAttribute(ATTR_URL_PATH, record.path);
    span.setAttribute(ATTR_BACKSTOP_REQUEST_ID, record.id);
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, record.status);
    span.setAttribute(ATTR_BACKSTOP_ATTEMPTS, record.results.length);
    span.setAttribute(ATTR_BACKSTOP_OUTCOME, record.outcome);
    if (record.ttftMs !== undefined) span.setAttribute(ATTR_BACKSTOP_TTFT_MS, Math.round(record.ttftMs));
    if (FAILED.has(record.outcome) || record.status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, record.outcome);
      span.setStatus({ code: SpanStatusCode.ERROR, message: statusMessage(record.detail) });
    }
    span.end();
  }
}

function jsonOf(held: Buffer[]): string {
  return (held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held)).toString();
}

/** The data of a verified stream's first event, read with the one SSE parser (src/verify). */
function firstEventData(held: Buffer[]): string {
  const first = new SseFirstEvent();
  for (const chunk of held) {
    const data = first.feed(chunk);
    if (data !== undefined) return data;
  }
  return '';
}

/** The CLIENT span of one upstream attempt. */
class OtelAttemptTrace implements AttemptTrace {
  #ended = false;
  readonly span: Span;
  /** The attempt's context, whose span id goes upstream in `traceparent`. */
  readonly context: Context;
  readonly propagator: W3CTraceContextPropagator;
  readonly onError: TraceErrorHandler;

  constructor(
    span: Span,
    context: Context,
    propagator: W3CTraceContextPropagator,
    onError: TraceErrorHandler,
  ) {
    this.span = span;
    this.context = context;
    this.propagator = propagator;
    this.onError = onError;
  }

  headers(base: Record<string, string | string[]>): Record<string, string | string[]> {
    const out = { ...base };
    // The client's own `traceparent` and `tracestate` were for backstop's span, not the upstream's.
    delete out.traceparent;
    delete out.tracestate;
    this.propagator.inject(this.context, out, headerSetter);
    return out;
  }

  judged(outcome: AttemptOutcome): void {
    const span = this.span;
    // A request the sampler dropped: its answer is not read a second time (the SDK records nothing).
    if (!span.isRecording()) return;
    try {
      this.#judge(span, outcome);
    } catch (error) {
      this.onError(error, undefined);
    }
  }

  #judge(span: Span, outcome: AttemptOutcome): void {
    if (outcome.status !== 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, outcome.status);
    if (outcome.clientGone || outcome.result !== 'ok') {
      const error = outcome.clientGone ? 'client_closed' : outcome.result;
      span.setAttribute(ATTR_ERROR_TYPE, error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: statusMessage(outcome.detail) });
    }
    if (outcome.servedModel !== undefined) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, outcome.servedModel);
    if (outcome.result === 'ok' && !outcome.clientGone) this.#answered(outcome);
  }

  /** The GenAI response attributes of a verified answer: its JSON body, or its stream's first event. */
  #answered(outcome: AttemptOutcome): void {
    const held = outcome.held;
    if (held === undefined || held.length === 0) return;
    const fields = answerFieldsOf(outcome.sse ? firstEventData(held) : jsonOf(held));
    if (fields === undefined) return;
    const span = this.span;
    if (fields.model !== undefined) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, fields.model);
    if (fields.id !== undefined) span.setAttribute(ATTR_GEN_AI_RESPONSE_ID, fields.id);
    if (fields.finishReasons !== undefined)
      span.setAttribute(ATTR_GEN_AI_RESPONSE_FINISH_REASONS, fields.finishReasons);
    if (fields.inputTokens !== undefined)
      span.setAttribute(ATTR_GEN_AI_USAGE_INPUT_TOKENS, fields.inputTokens);
    if (fields.outputTokens !== undefined)
      span.setAttribute(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, fields.outputTokens);
  }

  end(error?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      this.span.setAttribute(ATTR_ERROR_TYPE, error);
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}
