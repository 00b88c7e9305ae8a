/**
 * True when a 404 body says the requested model does not exist: the routing miss of a flapping
 * EPP, which sent the request to a vLLM that serves another model. vLLM has used two shapes:
 * nested `{"error":{"message":"The model `X` does not exist.","type":"NotFoundError",...}}` and
 * the older flat `{"object":"error","message":...,"type":"NotFoundError",...}`. A 404 that does
 * not name the model (a wrong path, say) is a real client error and is passed through.
 */
export function namesRequestedModel(body: Buffer, model: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== 'object') return false;
  const { error, message } = parsed as { error?: unknown; message?: unknown };
  const nested =
    error !== null && typeof error === 'object' ? (error as { message?: unknown }).message : undefined;
  const text = typeof nested === 'string' ? nested : typeof message === 'string' ? message : undefined;
  return text !== undefined && quotesModel(text, model);
}

const QUOTED = /`([^`]*)`/g;

/**
 * True when `message` names `model` the way vLLM does, in backticks ("The model `X` does not
 * exist."), exactly: a request for `phi` is not misrouted by "The model `phi-3` does not exist.",
 * which is a real not-found of another name (issue 10).
 */
export function quotesModel(message: string, model: string): boolean {
  for (const [, name] of message.matchAll(QUOTED)) if (name === model) return true;
  return false;
}
