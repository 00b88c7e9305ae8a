import type { Rng } from './rng.ts';

/** What a request routed to another model's backend gets back. */
export type Misroute = '404-nested' | '404-flat' | '404-mixed' | 'wrong-model-200';
export const MISROUTES: readonly Misroute[] = ['404-nested', '404-flat', '404-mixed', 'wrong-model-200'];

/** A per-request probability: one for every model, or per model name (missing names: 0; key "*": the rest). */
export type FaultRate = number | Readonly<Record<string, number>>;

/**
 * Per-request faults, in the order of the single categorical draw that picks at most one of them.
 * Keep their sum at or under 1: a later fault only gets the probability left by earlier ones.
 */
export const FAULT_NAMES = [
  'reset',
  'resetMidStream',
  'hang',
  'rateLimit',
  'noHealthyUpstream',
  'garbageJson',
  'oversizedJson',
  'truncatedSse',
  'inBandError',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

// Faults that only make sense for one kind of response; drawn for the other kind, they do nothing.
const JSON_ONLY: ReadonlySet<FaultName> = new Set(['garbageJson', 'oversizedJson']);
const STREAM_ONLY: ReadonlySet<FaultName> = new Set(['truncatedSse', 'inBandError']);

/** A fixed latency instead of the model's T4 profile (benchmarks). */
export interface FixedLatency {
  ttftMs: number;
  tpotMs: number;
  /** Completion tokens per response regardless of max_tokens; default: max_tokens. */
  tokens?: number;
}

/** How the endpoint picker chooses a pod (endpoint-picker.ts). */
export type Picker = 'least-load' | 'discovery';
export const PICKERS: readonly Picker[] = ['least-load', 'discovery'];

/** The EPP's flow control (its `flowControl` feature gate), per pod queue. */
export interface FlowControl {
  /** Most requests waiting per pod; one more gets 429 (rejected-saturated). */
  maxQueue: number;
  /** Queue wait in ms (scaled) after which a request gets 503 (rejected-ttl-expired); 0: no TTL. */
  queueTtlMs: number;
}

/** A stale view: `model`'s pod is out of the picker's view for `forMs` of every `everyMs` (scaled). */
export interface StaleView {
  model: string;
  everyMs: number;
  forMs: number;
}

/** Everything about the gateway that can misbehave, settable at start and at runtime. */
export interface SimFaults extends Record<FaultName, FaultRate> {
  /**
   * The picker may send a request to another model's pod. false: every request reaches its own
   * model's pod (as with one pool per model), whatever `picker` says.
   */
  flapping: boolean;
  /** 'least-load' (default): the EPP as it really decides; 'discovery': the report's flapping-view guess. */
  picker: Picker;
  /** An HTTPRoute rule routes X-Gateway-Model-Name to that model's pod (the fixed deployment). Default off. */
  headerRouting: boolean;
  /** vLLM `--max-num-seqs` of every pod: sequences generated at once; the rest queue, FIFO. */
  maxNumSeqs: number;
  /** The EPP's flow control; null (default, like the EPP): queues are unbounded and wait forever. */
  flowControl: FlowControl | null;
  /** A deterministic stale view of one pod, in either picker; null: none. */
  staleView: StaleView | null;
  /** 'discovery' picker: refresh period in ms (scaled by timeScale); 0: the view is drawn afresh for every request. */
  discoveryIntervalMs: number;
  /** 'discovery' picker: per model, the probability its pod is visible after a refresh (default: the model's own). */
  visibility: Record<string, number>;
  misroute: Misroute;
  /** Models whose backend is down: never visible, flapping or not. */
  outage: string[];
  /** Retry-After seconds on the rateLimit 429; null sends the 429 without the header. */
  retryAfterSeconds: number | null;
  /** Body size of the oversizedJson fault. */
  oversizedBytes: number;
  /** Benign SSE oddities a correct client must tolerate: `: ping` comments, CRLF, tiny writes. */
  sseQuirks: boolean;
  /** Fixed latency override; null: the models' T4 profiles. */
  latency: FixedLatency | null;
}

/** Defaults: the measured deployment (one pool, a picker that ignores `model`), every other fault off. */
export const DEFAULT_FAULTS: Readonly<SimFaults> = Object.freeze({
  flapping: true,
  picker: 'least-load',
  headerRouting: false,
  maxNumSeqs: 8,
  flowControl: null,
  staleView: null,
  discoveryIntervalMs: 0,
  visibility: {},
  misroute: '404-mixed',
  outage: [],
  reset: 0,
  resetMidStream: 0,
  hang: 0,
  rateLimit: 0,
  noHealthyUpstream: 0,
  garbageJson: 0,
  oversizedJson: 0,
  truncatedSse: 0,
  inBandError: 0,
  retryAfterSeconds: 1,
  oversizedBytes: 32 * 1024 * 1024,
  sseQuirks: false,
  latency: null,
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isProbability = (value: unknown): value is number =>
  typeof value === 'number' && value >= 0 && value <= 1;
const isNonNegative = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

function probabilities(value: unknown): value is Record<string, number> {
  return isRecord(value) && Object.values(value).every(isProbability);
}

const isRate = (value: unknown): boolean => isProbability(value) || probabilities(value);

function checkLatency(value: unknown): boolean {
  if (value === null) return true;
  if (!isRecord(value) || !isNonNegative(value.ttftMs) || !isNonNegative(value.tpotMs)) return false;
  return value.tokens === undefined || (Number.isInteger(value.tokens) && (value.tokens as number) >= 1);
}

// One check per field, so that a bad POST /sim/faults gets a 400 naming the field instead of a
// simulator that misbehaves in a way no test asked for.
const CHECKS: Record<keyof SimFaults, (value: unknown) => boolean> = {
  flapping: (v) => typeof v === 'boolean',
  picker: (v) => PICKERS.includes(v as Picker),
  headerRouting: (v) => typeof v === 'boolean',
  maxNumSeqs: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 4096,
  flowControl: (v) =>
    v === null ||
    (isRecord(v) &&
      Number.isInteger(v.maxQueue) &&
      (v.maxQueue as number) >= 0 &&
      isNonNegative(v.queueTtlMs)),
  staleView: (v) =>
    v === null ||
    (isRecord(v) &&
      typeof v.model === 'string' &&
      isNonNegative(v.everyMs) &&
      isNonNegative(v.forMs) &&
      (v.forMs as number) <= (v.everyMs as number)),
  discoveryIntervalMs: isNonNegative,
  visibility: probabilities,
  misroute: (v) => MISROUTES.includes(v as Misroute),
  outage: (v) => Array.isArray(v) && v.every((m) => typeof m === 'string'),
  retryAfterSeconds: (v) => v === null || (Number.isInteger(v) && (v as number) >= 0),
  oversizedBytes: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 1024 ** 3,
  sseQuirks: (v) => typeof v === 'boolean',
  latency: checkLatency,
  reset: isRate,
  resetMidStream: isRate,
  hang: isRate,
  rateLimit: isRate,
  noHealthyUpstream: isRate,
  garbageJson: isRate,
  oversizedJson: isRate,
  truncatedSse: isRate,
  inBandError: isRate,
};

/**
 * `current` with `patch` merged in (a shallow merge: `visibility: {...}` replaces the whole map).
 * Throws a TypeError naming the first unknown or invalid field.
 */
export function mergeFaults(current: Readonly<SimFaults>, patch: unknown): SimFaults {
  if (!isRecord(patch)) throw new TypeError('faults must be a JSON object');
  for (const [key, value] of Object.entries(patch)) {
    const check = (CHECKS as Record<string, ((value: unknown) => boolean) | undefined>)[key];
    if (check === undefined) throw new TypeError(`unknown fault field "${key}"`);
    if (!check(value)) throw new TypeError(`invalid value for "${key}": ${JSON.stringify(value)}`);
  }
  return { ...current, ...(patch as Partial<SimFaults>) };
}

/** The rate of `rate` for `model`. */
export function rateFor(rate: FaultRate, model: string): number {
  if (typeof rate === 'number') return rate;
  return rate[model] ?? rate['*'] ?? 0;
}

/** True when any per-request fault has a non-zero rate (else the draw is skipped: no RNG use). */
export function anyFaultRate(faults: Readonly<SimFaults>): boolean {
  return FAULT_NAMES.some((name) => {
    const rate = faults[name];
    return typeof rate === 'number' ? rate > 0 : Object.values(rate).some((r) => r > 0);
  });
}

/**
 * Picks at most one fault for a request with one uniform draw over the cumulative rates. A fault
 * that does not apply to the response kind (garbageJson on a stream, truncatedSse on JSON) yields null.
 */
export function drawFault(
  faults: Readonly<SimFaults>,
  model: string,
  stream: boolean,
  rng: Rng,
): FaultName | null {
  const u = rng.next();
  let cumulative = 0;
  for (const name of FAULT_NAMES) {
    cumulative += rateFor(faults[name], model);
    if (u < cumulative) {
      if (stream ? JSON_ONLY.has(name) : STREAM_ONLY.has(name)) return null;
      return name;
    }
  }
  return null;
}
