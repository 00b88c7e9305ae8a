export {
  type Admission,
  type AdmissionDeps,
  createAdmission,
  type Incoming,
  MODEL_ROUTES,
} from './admission.ts';
export { type AttemptOutcome, type AttemptSpec, runAttempt } from './attempt.ts';
export { type ForwardDeps, type ForwardJob, forward, type RetryMode } from './forward.ts';
export { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
export { startsLikeJsonObject } from './json-text.ts';
export { readRequestBody } from './request-body.ts';
export {
  answerError,
  type EndingDeps,
  type EndingRequest,
  endAfterBug,
  finish,
  refuse,
} from './request-end.ts';
export { MAX_MODEL_NAME_LENGTH, type RequestFields, readRequestFields } from './request-fields.ts';
export { requestIdFrom } from './request-id.ts';
export {
  BASE_MODEL_HEADER,
  type RoutingHeaders,
  routingHeadersOf,
  setRoutingHeaders,
} from './routing-headers.ts';
export { toUpstreamPath } from './target-path.ts';
export {
  createDirectEndpoints,
  createUpstreamPool,
  type DirectEndpoint,
  upstreamBasePath,
} from './upstream.ts';
