import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import type { Dispatcher } from 'undici';
import { BackstopError, type ErrorCode, sendError } from './errors.ts';
import type { RequestOutcome, RequestRecord } from './events.ts';
import {
  answerError,
  type DirectEndpoint,
  type ForwardDeps,
  finish,
  forward,
  type RetryMode,
  readRequestBody,
  readRequestFields,
  requestIdFrom,
  routingHeadersOf,
  setRoutingHeaders,
  startsLikeJsonObject,
  toUpstreamPath,
  upstreamBasePath,
  upstreamRequestHeaders,
} from './proxy/index.ts';
import type { RequestTrace, Tracing } from './trace/index.ts';
import { createModelMatcher } from './verify/index.ts';

/** Everything the proxy routes need, wired by serve.ts. */
export interface ProxyAppDeps extends ForwardDeps {
  dispatcher: Dispatcher;
  /** Each model's own endpoint (MODEL_ENDPOINTS), for the direct fallback. */
  endpoints?: ReadonlyMap<string, DirectEndpoint>;
  /** OpenTelemetry tracing (src/trace), when the OTEL_* environment turns it on. */
  tracing?: Tracing | undefined;
}

/** Routes whose JSON body names a model: verified and retried. */
export const MODEL_ROUTES: ReadonlySet<string> = new Set([
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
]);

type Env = {
  Bindings: HttpBindings;
  /** Set as soon as the request has its record, so that onError can name it. */
  Variables: { requestId: string | undefined };
};

/** One request as the handler sees it before forwarding. */
interface Incoming {
  req: IncomingMessage;
  res: ServerResponse;
  record: RequestRecord;
  startedAt: number;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  trace: RequestTrace | undefined;
}

/**
 * The proxy's hono app: one handler for `/v1/*`, 404 for the rest. The handler writes to the
 * Node response itself (straight from the upstream socket, no web-stream round trip) and returns
 * `RESPONSE_ALREADY_SENT`.
 */
export function createProxyApp(deps: ProxyAppDeps): Hono<Env> {
  const { config, observer } = deps;
  const basePath = upstreamBasePath(config.upstreamUrl);
  const matches = createModelMatcher(config.modelAliases);
  const routing = routingHeadersOf(config);
  const allowedList = config.models === undefined ? '' : [...config.models].join(', ');
  const app = new Hono<Env>();

  const begin = (c: Context<Env>): Incoming => {
    const req = c.env.incoming;
    const res = c.env.outgoing;
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const record: RequestRecord = {
      id: requestIdFrom(req.headers['x-request-id']),
      method: req.method ?? 'GET',
      // Without the query: some gateways take keys there, and logs must not hold them.
      path: query < 0 ? url : url.slice(0, query),
      model: '',
      stream: false,
      results: [],
      upstreams: [],
      status: 0,
      outcome: 'ok',
      durationMs: 0,
      ttftMs: undefined,
      detail: undefined,
    };
    c.set('requestId', record.id);
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const trace = deps.tracing?.startRequest(record.method, req.headers);
    return { req, res, record, startedAt: deps.now(), signal: controller.signal, trace };
  };

  /** Answers a request that never goes upstream, with its log line and metrics. */
  const refuse = (
    request: Incoming,
    outcome: RequestOutcome,
    code: ErrorCode,
    message: string,
    headers?: Record<string, string>,
  ) => {
    const { record } = request;
    observer.requestStarted(record.model);
    const sent = { ...headers, 'x-request-id': record.id, 'x-backstop-attempts': 0 };
    // As the attempt loop ends its requests: 499 client_closed if the client left before it.
    answerError(request, deps, code, outcome, message, sent, code);
  };

  /** The request body, or `undefined` once the request has been answered (too large, client gone). */
  const readBody = async (request: Incoming): Promise<Buffer | undefined> => {
    try {
      return await readRequestBody(request.req, config.maxBodyBytes);
    } catch (error) {
      if (error instanceof BackstopError) {
        // The rest of an oversized body is not read: close the connection after the answer.
        refuse(request, 'bad_request', error.code, error.message, { connection: 'close' });
      } else {
        // The client left mid-body: nobody to answer, but the request is still counted and logged.
        observer.requestStarted(request.record.model);
        const detail = 'client closed the connection while sending the body';
        finish(request, deps, 499, 'client_closed', detail);
      }
      return undefined;
    }
  };

  const handle = async (c: Context<Env>) => {
    const request = begin(c);
    const { req, record } = request;
    const path = toUpstreamPath(req.url ?? '', basePath);
    if (path === undefined) {
      refuse(request, 'bad_request', 'not_found', `No route for ${record.method} ${record.path}.`);
      return RESPONSE_ALREADY_SENT;
    }
    const method = record.method as Dispatcher.HttpMethod;
    const bodiless = method === 'GET' || method === 'HEAD';
    const body = bodiless ? null : await readBody(request);
    if (body === undefined) return RESPONSE_ALREADY_SENT;
    // A model route is verified; neither a trailing slash nor an absolute-form target may be a way
    // around that, so the route is read from the normalised upstream path.
    const query = path.indexOf('?');
    const route = path.slice(basePath.length, query < 0 ? undefined : query).replace(/\/$/, '');
    const modelRoute = method === 'POST' && MODEL_ROUTES.has(route);
    let model: string | undefined;
    // Every body that reads as a JSON object is checked, whatever its content-type says: vLLM
    // (FastAPI) parses a body with no content-type as JSON (issue 10).
    if (body !== null && (modelRoute || startsLikeJsonObject(body))) {
      const fields = readRequestFields(body);
      if (fields.ok) {
        model = fields.model;
        record.model = model;
        record.stream = fields.stream;
      } else if (modelRoute || (config.models !== undefined && fields.code !== 'missing_model')) {
        // With MODELS set, a JSON object whose model backstop cannot read may still name one to
        // the upstream (Python's json takes `NaN` and `Infinity`): refused, as on a model route.
        refuse(request, 'bad_request', fields.code, fields.message);
        return RESPONSE_ALREADY_SENT;
      }
    }
    // MODELS holds for every route whose body names a model, not only the verified ones.
    if (model !== undefined && config.models !== undefined && !config.models.has(model)) {
      const message = `The model \`${model}\` does not exist here. Available: ${allowedList}.`;
      refuse(request, 'model_not_allowed', 'model_not_found', message);
      return RESPONSE_ALREADY_SENT;
    }
    request.trace?.routed(route, model);
    const retry: RetryMode = modelRoute ? 'model' : bodiless ? 'idempotent' : 'none';
    const spec = {
      dispatcher: deps.dispatcher,
      method,
      path,
      // Set from the body's model wherever backstop read one, as BBR does (issue 11).
      headers: setRoutingHeaders(upstreamRequestHeaders(req.headers, record.id, modelRoute), routing, model),
      body,
      model: modelRoute ? model : undefined,
      matches,
      attemptTimeoutMs: config.attemptTimeoutMs,
      maxResponseBytes: config.maxResponseBytes,
      clientSignal: request.signal,
    };
    // The same request for the model's own vLLM Service: only its origin and base path differ,
    // so headers, body, verification and timeouts are the gateway's (issue 11).
    const endpoint = modelRoute && model !== undefined ? deps.endpoints?.get(model) : undefined;
    const direct =
      endpoint === undefined
        ? undefined
        : { ...spec, dispatcher: endpoint.pool, path: endpoint.basePath + path.slice(basePath.length) };
    await forward(
      {
        res: request.res,
        record,
        startedAt: request.startedAt,
        retry,
        route,
        spec,
        direct,
        trace: request.trace,
      },
      deps,
    );
    return RESPONSE_ALREADY_SENT;
  };

  app.all('/v1', handle);
  app.all('/v1/*', handle);
  app.notFound((c) => {
    const request = begin(c);
    const { record } = request;
    refuse(
      request,
      'bad_request',
      'not_found',
      `No route for ${record.method} ${record.path}; backstop serves /v1/*.`,
    );
    return RESPONSE_ALREADY_SENT;
  });
  app.onError((error, c) => {
    const res = c.env.outgoing;
    // The id the request was given (and logged, and sent upstream), so the error can be matched.
    const id = c.get('requestId') ?? requestIdFrom(c.env.incoming.headers['x-request-id']);
    deps.onUnexpectedError(error, id);
    if (!res.headersSent)
      sendError(res, 'internal_error', 'backstop failed to handle the request.', { 'x-request-id': id });
    else res.destroy();
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}
