import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from './errors.ts';
import { type AdmissionDeps, createAdmission, type Incoming } from './proxy/index.ts';

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
  const failed = (request: Incoming, error: unknown) => {
    deps.onUnexpectedError(error, request.record.id);
    const { res } = request;
    if (!res.headersSent) {
      const headers = { 'x-request-id': request.record.id };
      sendError(res, 'internal_error', 'backstop failed to handle the request.', headers);
    } else res.destroy();
  };
  return (req, res) => {
    const request = admission.begin(req, res);
    admission.admit(request).catch((error: unknown) => failed(request, error));
  };
}
