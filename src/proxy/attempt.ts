import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  type AttemptResult,
  type BodyToRead,
  classifyAttempt,
  type ModelMatcher,
  NO_EVENT,
  NOTHING_READ,
  type Seen,
  SseFirstEvent,
  STREAM_ENDED,
  TOO_LARGE,
  type Verdict,
} from '../verify/index.ts';
import type { ClientWatch } from './client-watch.ts';
import { kQueuedAbort } from './undici-queued-abort.ts';
import { type BodySource, UpstreamBody } from './upstream-body.ts';

/** What one attempt needs; built once per request and reused across its attempts. */
export interface AttemptSpec {
  /** All an attempt uses of a pool: the dispatch API (an `UpstreamPool` has no `request()`). */
  dispatcher: Pick<Dispatcher, 'dispatch'>;
  method: Dispatcher.HttpMethod;
  path: string;
  headers: Record<string, string | string[]>;
  /** The exact request bytes, resent unchanged on every attempt; `null` for bodiless requests. */
  body: Buffer | null;
  /** The requested model; verification is off when it is `undefined` (pass-through routes). */
  model: string | undefined;
  matches: ModelMatcher;
  attemptTimeoutMs: number;
  maxResponseBytes: number;
  /** Whether the client went away; the attempt in progress watches it. */
  client: ClientWatch;
}

/** How an attempt ended, and what the client gets if the loop commits it. */
export interface AttemptOutcome {
  result: AttemptResult;
  /** Upstream status, 0 when no response arrived. */
  status: number;
  headers: IncomingHttpHeaders | undefined;
  /** Body bytes already read (a whole JSON body, or an SSE stream up to its first event). */
  held: Buffer[] | undefined;
  /** The unread rest of the body, for the client; undefined when fully read or dropped. */
  rest: Readable | undefined;
  /** Whether `rest` is an SSE stream of a model that passed verification. */
  sse: boolean;
  retryAfterMs: number | undefined;
  detail: string | undefined;
  /** The model a wrong-model answer named (`model_mismatch`), for the misroute diagnosis. */
  servedModel: string | undefined;
  /** The client went away during the attempt. */
  clientGone: boolean;
}

/** How much of an error body is read (and of a dropped body drained, to keep its socket). */
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Sends the request upstream once and classifies the answer: reads and verifies a 2xx JSON body,
 * or an SSE stream up to its first data event, before anything reaches the client. The attempt
 * timeout covers the wait for a pooled connection, the response headers, and then the whole JSON
 * body or the first SSE event; `timeoutMs` below ATTEMPT_TIMEOUT_MS is the time left before the
 * request's deadline. A failed attempt's body is always drained or its request aborted (an
 * unfinished response pins its socket).
 */
export function runAttempt(spec: AttemptSpec, timeoutMs = spec.attemptTimeoutMs): Promise<AttemptOutcome> {
  const outcome: AttemptOutcome = {
    result: 'ok',
    status: 0,
    headers: undefined,
    held: undefined,
    rest: undefined,
    sse: false,
    retryAfterMs: undefined,
    detail: undefined,
    servedModel: undefined,
    clientGone: false,
  };
  // A client that left already will not leave again: nothing would stop this attempt.
  if (spec.client.gone) {
    outcome.clientGone = true;
    return Promise.resolve(outcome);
  }
  return new Promise((resolve) => {
    const handler = new AttemptHandler(spec, outcome, timeoutMs, resolve);
    const options: Dispatcher.DispatchOptions & {
      [kQueuedAbort]?: (cancel: (reason: Error) => void) => void;
    } = {
      method: spec.method,
      path: spec.path,
      headers: spec.headers,
      body: spec.body,
      [kQueuedAbort]: handler.onQueued,
    };
    spec.dispatcher.dispatch(options, handler);
  });
}

/** Frees an outcome's unread body when the loop will not deliver it. */
export function discardOutcome(outcome: AttemptOutcome): void {
  const rest = outcome.rest;
  outcome.rest = undefined;
  if (rest instanceof UpstreamBody) rest.discard();
  else rest?.destroy();
}

/**
 * What the handler does with the body's bytes:
 * - `read`: collect the whole body (a JSON answer, or the bounded body of a 404 or 429);
 * - `peek`: collect an SSE stream up to its first event that carries data;
 * - `stream`: hand the rest to `outcome.rest`, with backpressure;
 * - `drain`: drop a body nobody will read, up to ERROR_BODY_LIMIT, so the socket can be reused;
 * - `done`: nothing more is wanted (read whole, or aborted).
 */
type Mode = 'waiting' | 'read' | 'peek' | 'stream' | 'drain' | 'done';

/** Why an attempt aborted its own request; never shown to anyone, classified by `timedOut`. */
class AttemptAborted extends Error {}

/**
 * One attempt as an undici dispatch handler: the response's bytes arrive here, not through a
 * Readable per response and a promise per read (the dispatch API costs about 30% less CPU per
 * request than `request()`, issue 13). The verdict is the classifier's alone; here are only the
 * reads, where the bytes go and the attempt's timer. The promise settles once: at a verdict, a
 * failure, the timer, or the client's departure, whichever comes first.
 */
class AttemptHandler implements Dispatcher.DispatchHandler, BodySource {
  readonly #spec: AttemptSpec;
  readonly #outcome: AttemptOutcome;
  readonly #timeoutMs: number;
  readonly #resolve: (outcome: AttemptOutcome) => void;
  readonly #timer: NodeJS.Timeout;
  #controller: Dispatcher.DispatchController | null = null;
  /** Takes the request out of the pool's queue while it waits for a connection (kQueuedAbort). */
  #cancelQueued: ((reason: Error) => void) | undefined;
  #mode: Mode = 'waiting';
  #settled = false;
  /** The handler stopped the request itself: its `onResponseError` is the echo of that. */
  #stopped = false;
  #timedOut = false;
  /** Read when the headers arrive: it dates an HTTP-date Retry-After. */
  #now = 0;
  #reading: BodyToRead = 'json_body';
  #limit = 0;
  #chunks: Buffer[] = [];
  #size = 0;
  #first: SseFirstEvent | undefined;
  #body: UpstreamBody | undefined;

  constructor(
    spec: AttemptSpec,
    outcome: AttemptOutcome,
    timeoutMs: number,
    resolve: (outcome: AttemptOutcome) => void,
  ) {
    this.#spec = spec;
    this.#outcome = outcome;
    this.#timeoutMs = timeoutMs;
    this.#resolve = resolve;
    this.#timer = setTimeout(this.#onTimeout, timeoutMs);
    spec.client.watch(this.#onClientGone);
  }

  /** Handed to undici as the kQueuedAbort option: called while the request waits in a queue. */
  readonly onQueued = (cancel: (reason: Error) => void): void => {
    this.#cancelQueued = cancel;
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.#cancelQueued = undefined;
    // Settled while it waited for a pooled connection (timer, client gone): never sent.
    if (this.#mode === 'done') controller.abort(new AttemptAborted('abandoned in the queue'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx: informational, the real answer follows.
    if (statusCode < 200 || this.#mode !== 'waiting') return;
    const outcome = this.#outcome;
    const spec = this.#spec;
    outcome.status = statusCode;
    outcome.headers = headers;
    this.#now = Date.now();
    const first = classifyAttempt(spec, statusCode, headers, NOTHING_READ, this.#now);
    if (typeof first !== 'string') {
      apply(outcome, first);
      // Pass-through routes and a model route's client error go to the client as they came.
      if (spec.model === undefined || first.result === 'client_error') this.#startStream(controller);
      else this.#mode = 'drain';
      this.#settle();
      return;
    }
    this.#reading = first;
    if (first === 'first_event') {
      this.#mode = 'peek';
      this.#limit = spec.maxResponseBytes;
      this.#first = new SseFirstEvent();
      return;
    }
    this.#mode = 'read';
    this.#limit = first === 'json_body' ? spec.maxResponseBytes : ERROR_BODY_LIMIT;
    // A body whose declared length is already past the limit is not read first (the soak saw
    // oversized answers add 16 MiB of RSS each): it is as good as read and too large.
    if (Number(headers['content-length']) > this.#limit) this.#tooLarge(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.#mode) {
      case 'stream':
        if (!(this.#body as UpstreamBody).push(chunk)) controller.pause();
        return;
      case 'read':
        this.#size += chunk.length;
        if (this.#size > this.#limit) this.#tooLarge(controller);
        else this.#chunks.push(chunk);
        return;
      case 'peek':
        this.#peek(controller, chunk);
        return;
      case 'drain':
        this.#size += chunk.length;
        if (this.#size > ERROR_BODY_LIMIT) this.#abort(controller);
        return;
      default:
        return;
    }
  }

  onResponseEnd(): void {
    const mode = this.#mode;
    this.#mode = 'done';
    if (mode === 'stream') {
      (this.#body as UpstreamBody).push(null);
    } else if (mode === 'read') {
      const bytes =
        this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#size);
      this.#chunks = [];
      const verdict = this.#classify(bytes);
      // A verified JSON answer; a 404 or 429 the client may get (a dropped one has no body left).
      const kept =
        this.#reading === 'json_body' ? verdict.result === 'ok' : verdict.result !== 'model_not_found';
      if (kept) this.#outcome.held = [bytes];
      this.#settle();
    } else if (mode === 'peek') {
      this.#firstEventSeen(null, STREAM_ENDED);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    const mode = this.#mode;
    this.#mode = 'done';
    if (mode === 'stream') (this.#body as UpstreamBody).destroy(error);
    // Not the echo of the handler's own abort: a failure (also a bug of ours that undici caught
    // in another callback, which must not wait for the timer).
    else if (!this.#stopped) this.#fail(error);
  }

  /** An SSE stream's bytes until its first event that carries data; held, not forwarded. */
  #peek(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    const data = (this.#first as SseFirstEvent).feed(chunk);
    if (data !== undefined) this.#firstEventSeen(controller, data);
    // An endless prelude of comments is an invalid response.
    else if (this.#size > this.#limit) this.#firstEventSeen(controller, NO_EVENT);
  }

  /** The first event's data, or why there is none: the stream goes on to the client or is cut. */
  #firstEventSeen(controller: Dispatcher.DispatchController | null, seen: Seen): void {
    const verdict = this.#classify(seen);
    if (verdict.result === 'ok' || verdict.result === 'client_error') {
      const outcome = this.#outcome;
      outcome.held = this.#chunks;
      outcome.sse = verdict.result === 'ok';
      if (controller === null) {
        // The stream ended with that event: its rest is empty.
        const ended = new UpstreamBody(null, this);
        ended.push(null);
        outcome.rest = ended;
      } else {
        this.#startStream(controller);
      }
    } else if (controller !== null) {
      this.#abort(controller);
    }
    this.#chunks = [];
    this.#settle();
  }

  #startStream(controller: Dispatcher.DispatchController): void {
    this.#mode = 'stream';
    this.#body = new UpstreamBody(controller, this);
    this.#outcome.rest = this.#body;
  }

  /** What `UpstreamBody.discard` asks for: nobody will read the rest. */
  drain(): void {
    if (this.#mode !== 'stream') return;
    this.#mode = 'drain';
    this.#size = 0;
    this.#controller?.resume();
  }

  /** Whether the response has been read to its end (or failed): nothing left to abort. */
  get finished(): boolean {
    return this.#mode === 'done';
  }

  #tooLarge(controller: Dispatcher.DispatchController): void {
    this.#abort(controller);
    const verdict = this.#classify(TOO_LARGE);
    if (this.#reading !== 'json_body' && verdict.result !== 'model_not_found') this.#outcome.held = [];
    this.#chunks = [];
    this.#settle();
  }

  #classify(seen: Seen): Verdict {
    const outcome = this.#outcome;
    const verdict = classifyAttempt(this.#spec, outcome.status, outcome.headers, seen, this.#now);
    apply(outcome, verdict);
    return verdict;
  }

  /** Stops the request; its `onResponseError`, the echo of this abort, is ignored (`#stopped`). */
  #abort(controller: Dispatcher.DispatchController): void {
    this.#mode = 'done';
    this.#stopped = true;
    controller.abort(new AttemptAborted('the attempt needs no more of the answer'));
  }

  /** The request failed, timed out or lost its client before a verdict. */
  #fail(error: unknown): void {
    if (this.#settled) return;
    const outcome = this.#outcome;
    const spec = this.#spec;
    outcome.held = undefined;
    outcome.rest = undefined;
    outcome.sse = false;
    this.#chunks = [];
    if (spec.client.gone) {
      outcome.clientGone = true;
    } else {
      const capped = this.#timeoutMs < spec.attemptTimeoutMs;
      const failure = { kind: 'failed', error, timedOut: this.#timedOut, capped } as const;
      apply(outcome, classifyAttempt(spec, outcome.status, outcome.headers, failure, 0));
    }
    this.#settle();
  }

  /** Ends the attempt before a verdict: aborts the request, or marks it to be aborted at its start. */
  #stop(reason: string): void {
    if (this.#settled) return;
    this.#mode = 'done';
    this.#stopped = true;
    const error = new AttemptAborted(reason);
    if (this.#controller !== null) this.#controller.abort(error);
    // Still queued for a pooled connection: out of the queue, no socket touched. (In the instant
    // undici hands it a socket it cannot be cancelled; onRequestStart then aborts it.)
    else this.#cancelQueued?.(error);
    this.#fail(error);
  }

  readonly #onTimeout = (): void => {
    this.#timedOut = true;
    this.#stop('attempt timed out');
  };

  readonly #onClientGone = (): void => {
    this.#stop('the client went away');
  };

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#spec.client.unwatch(this.#onClientGone);
    // Whoever ends up owning the rest of the body may destroy it (client gone, drain expired);
    // that error must never be an unhandled 'error' event.
    this.#outcome.rest?.on('error', ignore);
    this.#resolve(this.#outcome);
  }
}

function ignore(): void {}

function apply(outcome: AttemptOutcome, verdict: Verdict): void {
  outcome.result = verdict.result;
  outcome.detail = verdict.detail;
  outcome.servedModel = verdict.servedModel;
  outcome.retryAfterMs = verdict.retryAfterMs;
}
