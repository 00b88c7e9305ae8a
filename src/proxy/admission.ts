import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RequestRecord } from '../events.ts';
import type { RequestTrace, Tracing } from '../trace/index.ts';
import { createModelMatcher } from '../verify/index.ts';
import type { AttemptSpec } from './attempt.ts';
import { ClientWatch } from './client-watch.ts';
import { type ForwardDeps, forward, type RetryMode } from './forward.ts';
import { upstreamRequestHeaders } from './headers.ts';
import { startsLikeJsonObject } from './json-text.ts';
import { readRequestBody } from './request-body.ts';
import { finish, refuse } from './request-end.ts';
import { readRequestFields } from './request-fields.ts';
import { requestIdFrom } from './request-id.ts';
import { routingHeadersOf, setRoutingHeaders } from './routing-headers.ts';
import { toUpstreamPath } from './target-path.ts';
import { type DirectEndpoint, upstreamBasePath } from './upstream.ts';

/** Everything admission and forwarding need, wired by serve.ts. */
export interface AdmissionDeps extends ForwardDeps {
  dispatcher: AttemptSpec['dispatcher'];
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

/** One client request from its arrival: its record, when it came, and whether its client left. */
export interface Incoming {
  req: IncomingMessage;
  res: ServerResponse;
  record: RequestRecord;
  startedAt: number;
  /** Whether the client left before its answer was finished. */
  client: ClientWatch;
  trace: RequestTrace | undefined;
}

/** What the HTTP layer (server.ts) calls: one request's arrival, then its admission or refusal. */
export interface Admission {
  /** Gives an arriving request its record, id, clock, client watch and trace. */
  begin(req: IncomingMessage, res: ServerResponse): Incoming;
  /**
   * Admits a request and forwards it, or refuses it: route normalisation (only `/v1` and below
   * are served), body, request fields, the MODELS allowlist, the retry mode and the attempt
   * spec. Resolves when it has ended.
   */
  admit(request: Incoming): Promise<void>;
}

export function createAdmission(deps: AdmissionDeps): Admission {
  const { config } = deps;
  const basePath = upstreamBasePath(config.upstreamUrl);
  const matches = createModelMatcher(config.modelAliases);
  const routing = routingHeadersOf(config);
  const allowedList = config.models === undefined ? '' : [...config.models].join(', ');
  const bodyTooLarge = `Request body exceeds the limit of ${config.maxBodyBytes} bytes (MAX_BODY_BYTES).`;

  const begin = (req: IncomingMessage, res: ServerResponse): Incoming => {
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
    const client = new ClientWatch();
    // `on`, not `once`: a response closes once (node:http guards it), and `once` costs a wrapper
    // and a removal per request.
    res.on('close', () => {
      if (!res.writableFinished) client.leave();
    });
    const trace = deps.tracing?.startRequest(record.method, req.headers);
    return { req, res, record, startedAt: deps.now(), client, trace };
  };

  const admit = async (request: Incoming): Promise<void> => {
    const { req, record } = request;
    const path = toUpstreamPath(req.url ?? '', basePath);
    if (path === undefined) {
      const message = `No route for ${record.method} ${record.path}; backstop serves /v1/*.`;
      refuse(request, deps, 'bad_request', 'not_found', message);
      return;
    }
    const method = record.method as Dispatcher.HttpMethod;
    const bodiless = method === 'GET' || method === 'HEAD';
    let body: Buffer | null = null;
    // Read here, not in a helper of its own: an async frame per request is garbage per request.
    if (!bodiless) {
      let read: Buffer | undefined;
      try {
        read = await readRequestBody(req, config.maxBodyBytes);
      } catch {
        // The client left mid-body: nobody to answer, but the request is still counted and logged.
        deps.observer.requestStarted(record.model);
        finish(request, deps, 499, 'client_closed', 'client closed the connection while sending the body');
        return;
      }
      if (read === undefined) {
        // The rest of an oversized body is not read: close the connection after the answer.
        refuse(request, deps, 'bad_request', 'body_too_large', bodyTooLarge, { connection: 'close' });
        return;
      }
      body = read;
    }
    // A model route is verified; neither a trailing slash nor an absolute-form target may be a way
    // around that, so the route is read from the normalised upstream path.
    const query = path.indexOf('?');
    const route = path.slice(basePath.length, query < 0 ? undefined : query).replace(/\/$/, '');
    const modelRoute = method === 'POST' && MODEL_ROUTES.has(route);
    // Known before any refusal below, so a refused request's span still names its route.
    request.trace?.routed(route, undefined);
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
        refuse(request, deps, 'bad_request', fields.code, fields.message);
        return;
      }
    }
    // MODELS holds for every route whose body names a model, not only the verified ones.
    if (model !== undefined && config.models !== undefined && !config.models.has(model)) {
      const message = `The model \`${model}\` does not exist here. Available: ${allowedList}.`;
      refuse(request, deps, 'model_not_allowed', 'model_not_found', message);
      return;
    }
    if (model !== undefined) request.trace?.routed(route, model);
    const retry: RetryMode = modelRoute ? 'model' : bodiless ? 'idempotent' : 'none';
    const spec: AttemptSpec = {
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
      client: request.client,
    };
    // The same request for the model's own vLLM Service: only its origin and base path differ,
    // so headers, body, verification and timeouts are the gateway's (issue 11).
    const endpoint = modelRoute && model !== undefined ? deps.endpoints?.get(model) : undefined;
    const direct =
      endpoint === undefined
        ? undefined
        : { ...spec, dispatcher: endpoint.pool, path: endpoint.basePath + path.slice(basePath.length) };
    const { res, startedAt, trace } = request;
    await forward({ res, record, startedAt, retry, route, spec, direct, trace }, deps);
  };

  return { begin, admit };
}
