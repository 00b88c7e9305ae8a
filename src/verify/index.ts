export {
  ATTEMPT_RESULTS,
  type AttemptResult,
  type RetryClass,
  retryClassOf,
  type Verdict,
} from './attempt-result.ts';
export {
  type BodyToRead,
  classifyAttempt,
  type Expectation,
  NO_EVENT,
  NOTHING_READ,
  type NothingRead,
  type Seen,
  STREAM_ENDED,
  TOO_LARGE,
  type TransportFailure,
  type Unread,
} from './classify-attempt.ts';
export { createModelMatcher, type ModelMatcher } from './model-matcher.ts';
export { namesRequestedModel } from './not-found-body.ts';
export {
  bomLength,
  byteBeforeLast,
  eventData,
  lastByte,
  lastEventEnd,
  NONE,
  nextEventEnd,
} from './sse-events.ts';
export { SseFirstEvent } from './sse-first-event.ts';
