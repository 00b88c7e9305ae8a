export {
  ATTEMPT_RESULTS,
  type AttemptResult,
  type RetryClass,
  retryClassOf,
  type Verdict,
} from './attempt-result.ts';
export { verifyJsonBody } from './json-body.ts';
export { createModelMatcher, type ModelMatcher } from './model-matcher.ts';
export { namesRequestedModel } from './not-found-body.ts';
export { SseFirstEventPeek } from './sse-first-event.ts';
export { classifyStatus } from './status.ts';
