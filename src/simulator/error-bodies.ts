/**
 * Error bodies exactly as the real components send them. Each names its source, because a client
 * must tell them apart: vLLM's JSON errors (two shapes across versions), the EPP's text/plain 503,
 * Envoy's text/plain 503.
 */

function vllmError(message: string, type: string, param: string | null, code: number): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** vLLM's 404 for a model it does not serve, current shape (nested `error`, param "model"). */
export function modelNotFoundNested(model: string): string {
  return vllmError(`The model \`${model}\` does not exist.`, 'NotFoundError', 'model', 404);
}

/** vLLM's 404 for a model it does not serve, older flat shape (`object: "error"`, param null). */
export function modelNotFoundFlat(model: string): string {
  return JSON.stringify({
    object: 'error',
    message: `The model \`${model}\` does not exist.`,
    type: 'NotFoundError',
    param: null,
    code: 404,
  });
}

/** vLLM's 400 for a request it refuses. */
export function badRequest(message: string): string {
  return vllmError(message, 'BadRequestError', null, 400);
}

/** vLLM's 400 message when prompt + max_tokens exceed the model's context. */
export function contextLengthMessage(contextLength: number, promptTokens: number, maxTokens: number): string {
  return (
    `This model's maximum context length is ${contextLength} tokens. However, you requested ` +
    `${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). ` +
    'Please reduce the length of the messages or completion.'
  );
}

/** A 429 in the OpenAI error shape, as a rate-limiting gateway in front of vLLM would send. */
export const RATE_LIMITED_BODY = vllmError('Too Many Requests', 'RateLimitError', null, 429);

/** The `{"error":...}` payload of an in-band error event in an SSE 200 (vLLM on an engine failure). */
export const IN_BAND_ERROR_PAYLOAD = vllmError(
  'EngineCore encountered an issue. See stack trace (above) for the root cause.',
  'InternalServerError',
  null,
  500,
);

/** FastAPI's 404 for a path vLLM has no route for. */
export const ROUTE_NOT_FOUND_BODY = '{"detail":"Not Found"}';

/** The EPP's text/plain 503 when it sees no backend at all (llm-d inference scheduler). */
export const EPP_NO_BACKEND_BODY =
  'inference error: ServiceUnavailable - failed to find candidate pods for serving the request';

/** Envoy's text/plain 503 when the cluster has no healthy endpoint. */
export const NO_HEALTHY_UPSTREAM_BODY = 'no healthy upstream';

/** The EPP's text/plain 503 when flow control evicts a request whose queue wait passed its TTL. */
export const EPP_QUEUE_TTL_BODY = 'inference error: ServiceUnavailable - request timed out in queue';

/** The EPP's text/plain 429 when flow control's queue is full (saturation). */
export const EPP_SATURATED_BODY =
  'inference error: ResourceExhausted - system saturated, sheddable request dropped';
