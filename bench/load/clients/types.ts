/** The client paths compared side by side, and what one request through a path measured. */

/**
 * - `direct`: one request to the gateway, no retries: what a naive client sees.
 * - `client-loop`: the report's client loop: check `model`, sleep, up to 10 attempts.
 * - `backstop`: one request to backstop, which retries for us.
 * - `reference`: `direct` against the same simulator with flapping off (the retry-tax baseline).
 * - `nginx`: `direct` through nginx, the relay-cost yardstick of the `overhead` scenario.
 * - `backstop-retries`, `backstop-headers`, `backstop-fallback`: backstop with retries only
 *   (ROUTING_HEADERS=false), with routing headers to a header-routing gateway, and with
 *   MODEL_ENDPOINTS (the `misroutes` scenario's four paths, issue 11).
 */
export type PathName =
  | 'direct'
  | 'client-loop'
  | 'backstop'
  | 'reference'
  | 'nginx'
  | 'backstop-retries'
  | 'backstop-headers'
  | 'backstop-fallback';

/** The request every path sends, OpenAI-compatible. */
export interface Workload {
  api: 'completions' | 'chat';
  maxTokens: number;
  stream: boolean;
  /** Per-attempt time limit (the report's `curl --max-time 25`). */
  timeoutMs: number;
}

/** One logical request through one path, however many attempts it took. */
export interface RequestSample {
  path: PathName;
  model: string;
  /** 200 and the `model` we asked for: the report's success test. */
  ok: boolean;
  /** Upstream attempts: the loop's own count, or backstop's `x-backstop-attempts`. */
  attempts: number;
  /** Status of the last attempt; 0 when the connection failed. */
  status: number;
  /** When the request started, ms since the scenario phase started. */
  startMs: number;
  /** First token (streaming) or first body byte (non-streaming), from the first attempt's start. */
  ttftMs: number | null;
  /** TTFT of the last attempt alone: what the report's script reported as TTFT. */
  lastAttemptTtftMs: number | null;
  /** Whole request, first attempt's start to last byte. */
  e2eMs: number;
  /** Completion tokens of the final response. */
  tokens: number;
  /** Streaming only; null for non-streaming responses and single-token streams. */
  tpotMs: number | null;
  /** Streaming only: gaps between token events. */
  itlMs: number[];
  /** Why the request failed: `status 503`, `model X`, `timeout`, a socket error code. */
  error?: string;
}

/** Sends one logical request for `model` through a path. */
export interface PathClient {
  name: PathName;
  send(model: string, seq: number): Promise<RequestSample>;
}
