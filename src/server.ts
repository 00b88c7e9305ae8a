import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from './errors.ts';
import { type AdmissionDeps, createAdmission, endAfterBug, requestIdFrom } from './proxy/index.ts';

/** Everything the proxy routes need, wired by serve.ts. */
export type ProxyAppDeps = AdmissionDeps;

export { MODEL_ROUTES } from './proxy/index.ts';

/** The proxy listener's request handler, for `http.createServer`. */
export type ProxyHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The proxy's request handler: every request goes to admission (src/proxy/admission.ts), whose
 * path normalisation is the routing (`/v1` and below are forwarded, anything else gets 404).
 * It is a plain node:http handler: a router and a fetch adaptor in front of one prefix test cost
 * CPU on every request (issue 13's profile). A bug that escapes admission is logged with the
 * request's id and answered 500 if nothing went out yet.
 */
export function createProxyHandler(deps: ProxyAppDeps): ProxyHandler {
  const admission = createAdmission(deps);
  return (req, res) => {
    let request: ReturnType<typeof admission.begin>;
    try {
      request = admission.begin(req, res);
    } catch (error) {
      // No record to end: the bug is logged with the id the request would have had.
      const id = requestIdFrom(req.headers['x-request-id']);
      deps.onUnexpectedError(error, id);
      sendError(res, 'internal_error', 'backstop failed to handle the request.', { 'x-request-id': id });
      return;
    }
    admission.admit(request).catch((error: unknown) => {
      deps.onUnexpectedError(error, request.record.id);
      endAfterBug(request, deps, error);
    });
  };
}
