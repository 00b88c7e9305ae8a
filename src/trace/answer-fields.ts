/** What a verified answer says about itself, for the GenAI `gen_ai.response.*` and `usage` attributes. */
export interface AnswerFields {
  model: string | undefined;
  id: string | undefined;
  finishReasons: string[] | undefined;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
}

/**
 * The fields of an OpenAI-shaped answer (a whole JSON body, or a stream's first event's data),
 * or `undefined` when it is not a JSON object. Read only when tracing is on: the proxy itself
 * never parses more of an answer than its `model`.
 */
export function answerFieldsOf(json: string): AnswerFields | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const answer = parsed as {
    model?: unknown;
    id?: unknown;
    choices?: unknown;
    usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  };
  return {
    model: stringOf(answer.model),
    id: stringOf(answer.id),
    finishReasons: finishReasonsOf(answer.choices),
    inputTokens: countOf(answer.usage?.prompt_tokens),
    outputTokens: countOf(answer.usage?.completion_tokens),
  };
}

/** Finish reasons kept at most: an answer may carry any number of choices (`n`). */
const MAX_FINISH_REASONS = 16;

function finishReasonsOf(choices: unknown): string[] | undefined {
  if (!Array.isArray(choices)) return undefined;
  const reasons: string[] = [];
  for (const choice of choices.slice(0, MAX_FINISH_REASONS)) {
    const reason = (choice as { finish_reason?: unknown } | null)?.finish_reason;
    if (typeof reason === 'string') reasons.push(reason);
  }
  return reasons.length > 0 ? reasons : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function countOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
