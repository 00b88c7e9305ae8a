import { jsonText } from './json-text.ts';

/** Longest model name accepted: names are kept as breaker keys and metric labels, and logged. */
export const MAX_MODEL_NAME_LENGTH = 256;

/** The fields of a request body backstop acts on, or why it cannot. */
export type RequestFields =
  | { readonly ok: true; readonly model: string; readonly stream: boolean }
  | {
      readonly ok: false;
      readonly code: 'invalid_json' | 'missing_model' | 'invalid_model';
      readonly message: string;
    };

const NOT_JSON: RequestFields = {
  ok: false,
  code: 'invalid_json',
  message: 'The request body is not valid JSON.',
};
const NO_MODEL: RequestFields = {
  ok: false,
  code: 'missing_model',
  message: 'The request body must name a `model` (a string).',
};
const LONG_MODEL: RequestFields = {
  ok: false,
  code: 'invalid_model',
  message: `The \`model\` must be at most ${MAX_MODEL_NAME_LENGTH} characters.`,
};

/**
 * Reads `model` and `stream` from a JSON request body, decoded as the upstream decodes it
 * (`jsonText`). The body is parsed, never re-serialised: the original bytes are what goes upstream.
 */
export function readRequestFields(body: Buffer): RequestFields {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonText(body));
  } catch {
    return NOT_JSON;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return NO_MODEL;
  const { model, stream } = parsed as { model?: unknown; stream?: unknown };
  if (typeof model !== 'string' || model === '') return NO_MODEL;
  if (model.length > MAX_MODEL_NAME_LENGTH) return LONG_MODEL;
  return { ok: true, model, stream: stream === true };
}
