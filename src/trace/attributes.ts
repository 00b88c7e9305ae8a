export {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';

// The GenAI conventions are still in Development: OpenTelemetry asks users to copy incubating
// names rather than import `@opentelemetry/semantic-conventions/incubating`, whose exports may
// change in a minor release.
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';

// backstop's own, documented in docs/observability.md (Traces).
export const ATTR_BACKSTOP_ATTEMPT = 'backstop.attempt';
export const ATTR_BACKSTOP_ATTEMPTS = 'backstop.attempts';
export const ATTR_BACKSTOP_UPSTREAM = 'backstop.upstream';
export const ATTR_BACKSTOP_BACKOFF_MS = 'backstop.backoff_ms';
export const ATTR_BACKSTOP_OUTCOME = 'backstop.outcome';
export const ATTR_BACKSTOP_REQUEST_ID = 'backstop.request_id';
export const ATTR_BACKSTOP_TTFT_MS = 'backstop.ttft_ms';
/** The event on the SERVER span when the verified first byte went to the client. */
export const EVENT_FIRST_BYTE = 'backstop.first_byte';

/** `gen_ai.operation.name` of each model route (OpenAI's API names, as the conventions list them). */
export const OPERATIONS: ReadonlyMap<string, string> = new Map([
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'text_completion'],
  ['/v1/embeddings', 'embeddings'],
]);
