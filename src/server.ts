import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import { sendError } from './errors.ts';
import { type AdmissionDeps, createAdmission, requestIdFrom } from './proxy/index.ts';

/** Everything the proxy routes need, wired by serve.ts. */
export type ProxyAppDeps = AdmissionDeps;

export { MODEL_ROUTES } from './proxy/index.ts';

type Env = {
  Bindings: HttpBindings;
  /** Set as soon as the request has its record, so that onError can name it. */
  Variables: { requestId: string | undefined };
};

/**
 * The proxy's hono app: routing only. `/v1` and `/v1/*` go to admission (src/proxy/admission.ts),
 * which answers or forwards; everything else is refused there too. Handlers write to the Node
 * response themselves (straight from the upstream socket, no web-stream round trip) and return
 * `RESPONSE_ALREADY_SENT`.
 */
export function createProxyApp(deps: ProxyAppDeps): Hono<Env> {
  const admission = createAdmission(deps);
  const app = new Hono<Env>();

  const begin = (c: Context<Env>) => {
    const request = admission.begin(c.env.incoming, c.env.outgoing);
    c.set('requestId', request.record.id);
    return request;
  };

  const handle = async (c: Context<Env>) => {
    await admission.admit(begin(c));
    return RESPONSE_ALREADY_SENT;
  };

  app.all('/v1', handle);
  app.all('/v1/*', handle);
  app.notFound((c) => {
    admission.noRoute(begin(c));
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
