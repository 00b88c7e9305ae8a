import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { Dispatcher } from 'undici';
import { BackstopError, type ErrorCode, sendError } from './errors.ts';
import type { RequestOutcome, RequestRecord } from './events.ts';
import {
  type ForwardDeps,
  forward,
  type RetryMode,
  readRequestBody,
  requestIdFrom,
  toUpstreamPath,
  upstreamRequestHeaders,
} from './proxy/index.ts';
import { createModelMatcher } from './verify/index.ts';

/** Everything the proxy routes need, wired by main.ts. */
export interface ProxyAppDeps extends ForwardDeps {
  dispatcher: Dispatcher;
  /** Logs errors that escaped a handler (a bug); the request log line is the observer's job. */
  onUnexpectedError: (error: unknown, requestId: string | undefined) => void;
}

/** Routes whose JSON body names a model: verified and retried. */
export const MODEL_ROUTES = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;

type Env = { Bindings: HttpBindings };

/**
 * The proxy's hono app. Handlers write to the Node response themselves (straight from the
 * upstream socket, no web-stream round trip) and return `RESPONSE_ALREADY_SENT`.
 */
export function createProxyApp(deps: ProxyAppDeps): Hono<Env> {
  const { config } = deps;
  const basePath = config.upstreamUrl.pathname.replace(/\/+$/, '');
  const matches = createModelMatcher(config.modelAliases);
  const app = new Hono<Env>();

  const start = (req: IncomingMessage, res: ServerResponse, model: string) => {
    const record: RequestRecord = {
      id: requestIdFrom(req.headers['x-request-id']),
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      model,
      stream: false,
      results: [],
      status: 0,
      outcome: 'ok',
      durationMs: 0,
      ttftMs: undefined,
      detail: undefined,
    };
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    return { record, signal: controller.signal, startedAt: deps.now() };
  };

  /** Answers a request that never goes upstream, with its log line and metrics. */
  const refuse = (
    res: ServerResponse,
    record: RequestRecord,
    startedAt: number,
    outcome: RequestOutcome,
    code: ErrorCode,
    message: string,
    headers?: Record<string, string>,
  ) => {
    deps.observer.requestStarted(record.model);
    sendError(res, code, message, { ...headers, 'x-request-id': record.id, 'x-backstop-attempts': 0 });
    record.outcome = outcome;
    // Nothing was sent when the client had already gone: 499, as the attempt loop logs it.
    record.status = res.headersSent ? res.statusCode : 499;
    record.detail = code;
    record.durationMs = deps.now() - startedAt;
    deps.observer.requestEnded(record);
  };

  const modelRoute = async (c: { env: HttpBindings }) => {
    const { incoming: req, outgoing: res } = c.env;
    const { record, signal, startedAt } = start(req, res, '');
    const path = toUpstreamPath(req.url ?? '', basePath);
    if (path === undefined) {
      refuse(res, record, startedAt, 'bad_request', 'not_found', `No route for ${req.method} ${req.url}.`);
      return RESPONSE_ALREADY_SENT;
    }
    let body: Buffer;
    try {
      body = await readRequestBody(req, config.maxBodyBytes);
    } catch (error) {
      if (error instanceof BackstopError) {
        // The rest of an oversized body is not read: close the connection after the answer.
        refuse(res, record, startedAt, 'bad_request', error.code, error.message, { connection: 'close' });
      } else {
        refuse(
          res,
          record,
          startedAt,
          'client_closed',
          'invalid_json',
          'The request body could not be read.',
        );
      }
      return RESPONSE_ALREADY_SENT;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      refuse(res, record, startedAt, 'bad_request', 'invalid_json', 'The request body is not valid JSON.');
      return RESPONSE_ALREADY_SENT;
    }
    const fields = (
      parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}
    ) as {
      model?: unknown;
      stream?: unknown;
    };
    if (typeof fields.model !== 'string' || fields.model === '') {
      refuse(
        res,
        record,
        startedAt,
        'bad_request',
        'missing_model',
        'The request body must name a `model` (a string).',
      );
      return RESPONSE_ALREADY_SENT;
    }
    const model = fields.model;
    record.model = model;
    record.stream = fields.stream === true;
    if (config.models !== undefined && !config.models.has(model)) {
      const allowed = [...config.models].join(', ');
      refuse(
        res,
        record,
        startedAt,
        'model_not_allowed',
        'model_not_found',
        `The model \`${model}\` does not exist here. Available: ${allowed}.`,
      );
      return RESPONSE_ALREADY_SENT;
    }
    await forward(
      {
        res,
        record,
        startedAt,
        retry: 'model',
        spec: {
          dispatcher: deps.dispatcher,
          method: 'POST',
          path,
          headers: upstreamRequestHeaders(req.headers, record.id),
          body,
          model,
          matches,
          attemptTimeoutMs: config.attemptTimeoutMs,
          maxResponseBytes: config.maxResponseBytes,
          clientSignal: signal,
        },
      },
      deps,
    );
    return RESPONSE_ALREADY_SENT;
  };

  const passThrough = async (c: { env: HttpBindings }) => {
    const { incoming: req, outgoing: res } = c.env;
    const { record, signal, startedAt } = start(req, res, '');
    const path = toUpstreamPath(req.url ?? '', basePath);
    if (path === undefined) {
      refuse(res, record, startedAt, 'bad_request', 'not_found', `No route for ${req.method} ${req.url}.`);
      return RESPONSE_ALREADY_SENT;
    }
    const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
    const bodiless = method === 'GET' || method === 'HEAD';
    let body: Buffer | null = null;
    if (!bodiless) {
      try {
        body = await readRequestBody(req, config.maxBodyBytes);
      } catch (error) {
        if (error instanceof BackstopError) {
          refuse(res, record, startedAt, 'bad_request', error.code, error.message, { connection: 'close' });
        } else {
          refuse(
            res,
            record,
            startedAt,
            'client_closed',
            'invalid_json',
            'The request body could not be read.',
          );
        }
        return RESPONSE_ALREADY_SENT;
      }
    }
    const retry: RetryMode = bodiless ? 'idempotent' : 'none';
    await forward(
      {
        res,
        record,
        startedAt,
        retry,
        spec: {
          dispatcher: deps.dispatcher,
          method,
          path,
          headers: upstreamRequestHeaders(req.headers, record.id),
          body,
          model: undefined,
          matches,
          attemptTimeoutMs: config.attemptTimeoutMs,
          maxResponseBytes: config.maxResponseBytes,
          clientSignal: signal,
        },
      },
      deps,
    );
    return RESPONSE_ALREADY_SENT;
  };

  for (const route of MODEL_ROUTES) app.post(route, modelRoute);
  app.all('/v1', passThrough);
  app.all('/v1/*', passThrough);
  app.notFound((c) => {
    const { incoming: req, outgoing: res } = c.env;
    const { record, startedAt } = start(req, res, '');
    refuse(
      res,
      record,
      startedAt,
      'bad_request',
      'not_found',
      `No route for ${req.method} ${req.url}; backstop serves /v1/*.`,
    );
    return RESPONSE_ALREADY_SENT;
  });
  app.onError((error, c) => {
    const res = c.env.outgoing;
    const id = res.getHeader('x-request-id');
    deps.onUnexpectedError(error, typeof id === 'string' ? id : undefined);
    if (!res.headersSent) sendError(res, 'internal_error', 'backstop failed to handle the request.');
    else res.destroy();
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}
