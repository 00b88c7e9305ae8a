import type { Verdict } from './attempt-result.ts';
import type { ModelMatcher } from './model-matcher.ts';

const OK: Verdict = { result: 'ok' };

/**
 * Verdict on a complete 2xx JSON body: `ok` when its top-level `model` is the requested model
 * (or an alias), `model_mismatch` when another model answered, `invalid_response` when the body
 * is not a JSON object with a `model`.
 */
export function verifyJsonBody(body: Buffer, requested: string, matches: ModelMatcher): Verdict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { result: 'invalid_response', detail: 'body is not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { result: 'invalid_response', detail: 'body is not a JSON object' };
  }
  const served = (parsed as { model?: unknown }).model;
  if (matches(requested, served)) return OK;
  if (typeof served !== 'string') return { result: 'invalid_response', detail: 'body has no model' };
  return { result: 'model_mismatch', servedModel: served };
}
