import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.ts';
import type { ProxyObserver, RequestRecord } from '../events.ts';
import {
  type BackoffOptions,
  backoffDelay,
  type MisrouteBackoffOptions,
  type ModelPolicies,
  misrouteDelay,
  type Random,
  type RetryBudget,
  type RouteBudgets,
} from '../resilience/index.ts';
import type { AttemptTrace, RequestTrace } from '../trace/index.ts';
import { type AttemptResult, retryClassOf } from '../verify/index.ts';
import { type AttemptOutcome, type AttemptSpec, discardOutcome, runAttempt } from './attempt.ts';
import type { BreakerTicket } from './breaker-ticket.ts';
import { MisrouteWait } from './misroute-wait.ts';
import { answerError, endAfterBug, finish } from './request-end.ts';
import { type Delivery, deliver } from './respond.ts';
import { UpstreamRoute } from './upstream-route.ts';

/** Which failed attempts a route may retry. */
export type RetryMode =
  /** Model routes: every retryable result, under breaker and budget. */
  | 'model'
  /** Idempotent pass-through (GET): connection errors and 502-504 only, within its route's budget. */
  | 'idempotent'
  /** Anything else: one attempt. */
  | 'none';

/** The long-lived parts a forwarded request uses. */
export interface ForwardDeps {
  config: Config;
  policies: ModelPolicies;
  /**
   * The breakers and budgets of the models' own endpoints (MODEL_ENDPOINTS), kept apart from the
   * gateway's `policies`, so a dead fallback cannot hide a healthy gateway or the reverse.
   */
  directPolicies?: ModelPolicies;
  /** Retry budgets of the requests that name no model, by route. */
  routeBudgets: RouteBudgets;
  observer: ProxyObserver;
  random: Random;
  backoff: BackoffOptions;
  misrouteBackoff: MisrouteBackoffOptions;
  /** Milliseconds on the same scale as `record.startedAt` (performance.now()). */
  now: () => number;
  /** Logs an error that escaped the loop (a bug), with the request id. */
  onUnexpectedError: (error: unknown, requestId: string) => void;
}

/** One client request being forwarded. */
export interface ForwardJob {
  res: ServerResponse;
  record: RequestRecord;
  startedAt: number;
  spec: AttemptSpec;
  /** The same request aimed at its model's own endpoint (MODEL_ENDPOINTS), when it has one. */
  direct?: AttemptSpec;
  retry: RetryMode;
  /** The normalised route (`/v1/models`): the budget key of a request that names no model. */
  route: string;
  /** Its trace, when tracing is on: one CLIENT span per attempt. */
  trace?: RequestTrace | undefined;
}

/**
 * The attempt loop: send, classify, and either commit the answer to the client or back off and
 * try again, by the class of what failed (retryClassOf): routing misses fast at first, within
 * RETRY_MAX_MISROUTES and their own budget; overload and failures with full-jitter backoff,
 * within RETRY_MAX_ATTEMPTS, the retry budget and the breaker; everything within
 * RETRY_DEADLINE_MS, which also caps each attempt. Nothing reaches the client before an attempt
 * is committed, so a wrong model's answer never leaks; after the first byte there is no retry.
 * A model with a MODEL_ENDPOINTS URL goes there instead (direct fallback, issue 11): after
 * FALLBACK_AFTER_MISROUTES routing misses, a gateway connection error, a dry gateway retry
 * budget, or at once while the gateway's breaker for the model is open; it then stays there.
 */
export async function forward(job: ForwardJob, deps: ForwardDeps): Promise<void> {
  const model = job.retry === 'model' ? job.spec.model : undefined;
  const directPolicy =
    model !== undefined && job.direct !== undefined ? deps.directPolicies?.get(model) : undefined;
  const route = new UpstreamRoute(job.spec, job.direct, directPolicy);
  const wait = new MisrouteWait();
  let last: AttemptOutcome | undefined;
  try {
    await attemptLoop(job, deps, route, wait, (outcome) => {
      last = outcome;
    });
  } catch (error) {
    // A bug, not an upstream failure: free everything the request holds, answer 500 if nothing
    // went out yet, and keep the in-flight gauge and the breaker's probe slot honest.
    deps.onUnexpectedError(error, job.record.id);
    route.abandon();
    last?.rest?.destroy();
    // finish() ends a request once: one that ended before the error keeps its record.
    endAfterBug(job, deps, error);
  } finally {
    wait.leave();
  }
}

async function attemptLoop(
  job: ForwardJob,
  deps: ForwardDeps,
  route: UpstreamRoute,
  wait: MisrouteWait,
  track: (outcome: AttemptOutcome) => void,
): Promise<void> {
  const { config, observer } = deps;
  const { record, spec } = job;
  const model = spec.model;
  observer.requestStarted(record.model);
  /** Moves the request to its model's endpoint (UpstreamRoute.goDirect), out of the gateway's queue. */
  const goDirect = (verdict: 'failure' | 'abandon' | 'refused'): boolean => {
    if (!route.goDirect(verdict)) return false;
    // Out of the gateway's misroute queue: the requests behind it may poll.
    wait.leave();
    return true;
  };
  if (job.retry === 'model' && model !== undefined) {
    const policy = deps.policies.get(model);
    route.useGateway(policy);
    const admission = policy.breaker.admit();
    // While the gateway fails for this model, its own endpoint answers (no fail-fast 503); the
    // gateway is tried again by its breaker's half-open probe.
    if (!admission.allowed && goDirect('refused')) {
      // Admitted by the model's endpoint: nothing to record on the gateway's side.
    } else if (!admission.allowed) {
      const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
      answerError(
        job,
        deps,
        'circuit_open',
        'circuit_open',
        `Model \`${model}\` is failing upstream; backstop's circuit breaker is open. Retry after ${seconds} s.`,
        { 'retry-after': seconds, 'x-request-id': record.id, 'x-backstop-attempts': 0 },
        `breaker open, retry after ${seconds}s`,
      );
      return;
    } else {
      route.holdGateway(admission);
      // Only a request that goes upstream earns retries; a refused one deposits nothing, which is
      // why ModelPolicies keeps a breaker by its state, not by its budget's traffic (issue 10).
      policy.budget.recordRequest();
      policy.misrouteBudget.recordRequest();
    }
  }
  // A request that names no model retries on its route's budget (issue 10): without one, every
  // poller of GET /v1/models could retry RETRY_MAX_ATTEMPTS times during an outage.
  const routeBudget = job.retry === 'idempotent' ? deps.routeBudgets.get(job.route) : undefined;
  routeBudget?.recordRequest();
  const deadline = job.startedAt + config.retryDeadlineMs;
  let last: AttemptOutcome | undefined;
  let stop: StopReason = job.retry === 'none' ? 'not_retried' : 'attempts';
  let misses = 0;
  let failures = 0;
  /** The time slept before the next attempt, for its span. */
  let slept = 0;
  for (;;) {
    const lastTry = job.retry === 'idempotent' && failures + 1 >= config.retryMaxAttempts;
    // The deadline caps the attempt too, so no request waits much past RETRY_DEADLINE_MS.
    const left = Math.max(1, Math.ceil(deadline - deps.now()));
    const attempt = job.trace?.attemptStarted(record.results.length + 1, route.upstream, slept);
    // Traced attempts carry their own span's traceparent; untraced ones reuse the request's spec.
    const sent =
      attempt === undefined ? route.spec : { ...route.spec, headers: attempt.headers(route.spec.headers) };
    wait.attemptStarted();
    last = await runAttempt(sent, Math.min(sent.attemptTimeoutMs, left));
    wait.attemptEnded();
    track(last);
    attempt?.judged(last);
    slept = 0;
    if (last.clientGone) {
      attempt?.end();
      route.abandon();
      finish(job, deps, 499, 'client_closed', 'client closed before the answer');
      return;
    }
    record.results.push(last.result);
    record.upstreams.push(route.upstream);
    observer.attemptEnded(record.model, last.result, last.servedModel, route.upstream);
    let step = nextStep(last, job.retry, lastTry, deadline - deps.now());
    if (step === 'retry' && routeBudget !== undefined && !routeBudget.tryWithdraw()) {
      // Spent: the upstream's answer goes to the client as it came, as after the last try.
      observer.budgetExhausted(record.model);
      stop = 'budget';
      step = last.status !== 0 ? 'commit' : 'fail';
    }
    if (step === 'commit') {
      const streaming = commit(job, deps, last, route.ticket, attempt);
      if (streaming !== undefined) await streaming;
      route.abandon();
      return;
    }
    attempt?.end();
    discardOutcome(last);
    if (step === 'fail') break;
    if (route.backToGateway()) continue;
    // On a model's own endpoint a wrong model is no routing miss (nothing there picks a pod): it
    // is retried as a failure, with that endpoint's budget and breaker.
    const misroute =
      job.retry === 'model' && route.upstream === 'gateway' && retryClassOf(last.result) === 'misroute';
    // The gateway picked the wrong pod again (it answers: no failure of its own), or cannot be
    // reached (a failure): straight to the model's endpoint, with no backoff.
    if (misroute ? misses + 1 >= config.fallbackAfterMisroutes : last.result === 'connect_error') {
      if (goDirect(misroute ? 'abandon' : 'failure')) {
        if (misroute) misses++;
        continue;
      }
    }
    let delay: number;
    let budget: RetryBudget | undefined;
    if (misroute) {
      misses++;
      if (misses >= config.retryMaxMisroutes) {
        stop = 'misroutes';
        break;
      }
      const policy = route.policy;
      budget = policy?.misrouteBudget;
      if (misses <= deps.misrouteBackoff.fastRetries || policy === undefined) {
        delay = misrouteDelay(misses, deps.misrouteBackoff, deps.random);
      } else {
        // A miss that persists: wait in the model's queue; only its head polls.
        const turn = await wait.turn(policy.misrouteQueue, deadline - deps.now(), spec.client.signal);
        if (turn === 'aborted') {
          route.abandon();
          finish(job, deps, 499, 'client_closed', 'client closed while waiting for its pod');
          return;
        }
        if (turn === 'deadline') {
          stop = 'deadline';
          break;
        }
        const fast = deps.misrouteBackoff.fastRetries;
        delay =
          turn === 'promoted' ? 0 : misrouteDelay(fast + wait.headMisses, deps.misrouteBackoff, deps.random);
      }
    } else {
      failures++;
      if (failures >= config.retryMaxAttempts) break;
      delay = backoffDelay(failures, deps.backoff, deps.random, last.retryAfterMs);
      budget = route.policy?.budget;
    }
    if (budget !== undefined && !budget.tryWithdraw()) {
      observer.budgetExhausted(record.model);
      // The gateway's budget for this model is spent: its own endpoint still has one.
      if (goDirect(misroute ? 'abandon' : 'failure')) continue;
      // The head of a misroute queue slows down instead of failing: one request per model then
      // polls once per RETRY_MAX_DELAY_MS, which bounds the load, and the requests behind it are
      // not lost to a budget that their own patience spent. Anything else stops here.
      if (!wait.queued) {
        stop = 'budget';
        break;
      }
      delay = Math.max(delay, deps.backoff.maxDelayMs);
    }
    if (deps.now() + delay > deadline) {
      stop = 'deadline';
      break;
    }
    slept = delay;
    try {
      await sleep(delay, undefined, { signal: spec.client.signal });
    } catch {
      route.abandon();
      finish(job, deps, 499, 'client_closed', 'client closed during backoff');
      return;
    }
  }
  route.failed(breakerVerdict(last, stop));
  failed(job, deps, last, stop);
}

/**
 * What a failed request tells the breaker. Routing misses say the gateway answers and was only
 * picking the wrong pod: a request that ran out of budget or deadline while being misrouted does
 * not count, or a stale view of a few seconds would open the breaker and become an outage of ten
 * (issue 9 measured exactly that). A request that used up all of RETRY_MAX_MISROUTES does count:
 * by then the model's pod is most likely gone, and failing fast is kinder. Overload and failures
 * count, whatever stopped the loop, budget included.
 */
function breakerVerdict(last: AttemptOutcome | undefined, stop: StopReason): 'failure' | 'abandon' {
  if (last === undefined || retryClassOf(last.result) !== 'misroute') return 'failure';
  return stop === 'misroutes' ? 'failure' : 'abandon';
}

/** Why the loop gave up. */
type StopReason = 'attempts' | 'misroutes' | 'deadline' | 'budget' | 'not_retried';

/** Commit the attempt to the client, try again, or give up; `leftMs` is the time to the deadline. */
function nextStep(
  outcome: AttemptOutcome,
  retry: RetryMode,
  lastTry: boolean,
  leftMs: number,
): 'commit' | 'retry' | 'fail' {
  const result = outcome.result;
  if (result === 'ok' || result === 'client_error') return 'commit';
  // A 429 asking for more time than is left goes to the client as it came, Retry-After and all:
  // the SDK's own backoff then honours it, instead of backstop retrying early into another 429.
  if (result === 'rate_limited' && outcome.retryAfterMs !== undefined && outcome.retryAfterMs > leftMs)
    return 'commit';
  if (retry === 'model') return 'retry';
  const gatewayError = outcome.status === 502 || outcome.status === 503 || outcome.status === 504;
  if (retry === 'idempotent' && !lastTry && (result === 'connect_error' || gatewayError)) return 'retry';
  // A pass-through response that is not retried goes to the client as the upstream sent it.
  return outcome.status !== 0 ? 'commit' : 'fail';
}

/**
 * Sends the committed attempt to the client and ends the request. A whole body goes out at once
 * and ends it here; a piped rest returns the promise of its end.
 */
function commit(
  job: ForwardJob,
  deps: ForwardDeps,
  outcome: AttemptOutcome,
  ticket: BreakerTicket,
  attempt: AttemptTrace | undefined,
): Promise<void> | undefined {
  const { record } = job;
  const verified = outcome.result === 'ok';
  const delivery = deliver(job.res, outcome, {
    requestId: record.id,
    attempts: record.results.length,
    stallTimeoutMs: deps.config.clientStallTimeoutMs,
    maxEventBytes: deps.config.maxResponseBytes,
    onFirstByte: () => {
      record.ttftMs = deps.now() - job.startedAt;
      job.trace?.firstByte();
      // The model answered: that is the breaker's verdict, given now so a half-open probe that
      // streams for minutes does not keep every other request failing fast meanwhile.
      if (verified) ticket.settle('success');
    },
  });
  if (typeof delivery === 'string') {
    committed(job, deps, outcome, ticket, attempt, delivery);
    return undefined;
  }
  return delivery.then((ended) => committed(job, deps, outcome, ticket, attempt, ended));
}

/** The end of a committed request, once its answer was delivered (or cut). */
function committed(
  job: ForwardJob,
  deps: ForwardDeps,
  outcome: AttemptOutcome,
  ticket: BreakerTicket,
  attempt: AttemptTrace | undefined,
  delivery: Delivery,
): void {
  const verified = outcome.result === 'ok';
  // A stream cut later, or a client that left, says nothing more about the model's health.
  ticket.settle('abandon');
  // The committed attempt's span covers its whole answer, a stream to its end.
  attempt?.end(delivery === 'ok' ? undefined : delivery);
  if (!verified) {
    const passed = outcome.result === 'rate_limited' ? 'rate_limited' : 'client_error';
    finish(job, deps, outcome.status, delivery === 'ok' ? passed : delivery, outcome.detail);
    return;
  }
  finish(
    job,
    deps,
    outcome.status,
    delivery,
    delivery === 'stream_error' ? 'upstream failed mid-stream' : undefined,
  );
}

const STOP_REASONS: Record<StopReason, string> = {
  attempts: 'RETRY_MAX_ATTEMPTS reached',
  misroutes: 'RETRY_MAX_MISROUTES routing misses: the gateway kept sending it to another model',
  deadline: 'the retry deadline (RETRY_DEADLINE_MS) left no time for another',
  budget: 'the retry budget for this model is exhausted (RETRY_BUDGET_RATIO, RETRY_MISROUTE_BUDGET_RATIO)',
  not_retried: 'requests on this route are not retried',
};

/**
 * Answers a request whose attempts all failed: 504 when the last one timed out, else 502; a spent
 * retry budget is always 502 `retries_exhausted` (the budget, not the upstream, ended it).
 */
function failed(
  job: ForwardJob,
  deps: ForwardDeps,
  last: AttemptOutcome | undefined,
  stop: StopReason,
): void {
  const { record } = job;
  const attempts = record.results.length;
  const lastResult: AttemptResult | 'none' = last?.result ?? 'none';
  const model = job.spec.model ?? job.record.path;
  const why =
    stop === 'budget' && job.spec.model === undefined
      ? 'the retry budget for this route is exhausted (RETRY_BUDGET_RATIO)'
      : STOP_REASONS[stop];
  const message = `No valid answer for \`${model}\` after ${attempts} attempt${attempts === 1 ? '' : 's'} (last result: ${lastResult}); ${why}.`;
  const headers = { 'x-request-id': record.id, 'x-backstop-attempts': attempts };
  if (lastResult === 'timeout' && stop !== 'budget') {
    answerError(job, deps, 'upstream_timeout', 'upstream_timeout', message, headers);
    return;
  }
  const outcome = stop === 'budget' ? 'budget_exhausted' : 'retries_exhausted';
  answerError(job, deps, 'retries_exhausted', outcome, message, headers);
}
