import type { Clock, Random } from './clock.ts';

/** Breaker states, with the numbers `backstop_circuit_state` exports. */
export const BreakerState = { closed: 0, halfOpen: 1, open: 2 } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** Settings of a consecutive-failure circuit breaker. */
export interface CircuitBreakerOptions {
  /** Consecutive failed requests that open the breaker. */
  failureThreshold: number;
  /** Time an open breaker waits before letting one probe through (less up to 20% jitter). */
  cooldownMs: number;
  /** Cap for the cooldown, which doubles (with jitter) each time a probe fails. */
  maxCooldownMs: number;
}

/** What the breaker says about a new request. */
export type Admission =
  | { readonly allowed: true; readonly probe: boolean }
  | { readonly allowed: false; readonly retryAfterMs: number };

const ALLOWED: Admission = { allowed: true, probe: false };
const PROBE: Admission = { allowed: true, probe: true };

/**
 * A breaker over *request* outcomes (after retries), not attempts: under EPP flapping a single
 * wrong-model attempt is normal and must not trip it. closed -> open after `failureThreshold`
 * consecutive failures; open -> half-open after the cooldown; half-open admits exactly one probe,
 * which closes the breaker on success and reopens it (with a longer cooldown) on failure.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #onStateChange: (state: BreakerState) => void;
  #state: BreakerState = BreakerState.closed;
  #failures = 0;
  #openUntil = 0;
  #opens = 0;
  #probeInFlight = false;

  constructor(
    options: CircuitBreakerOptions,
    clock: Clock,
    random: Random,
    onStateChange: (state: BreakerState) => void = () => {},
  ) {
    this.#options = options;
    this.#clock = clock;
    this.#random = random;
    this.#onStateChange = onStateChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Decides whether a new request may go upstream. A granted probe must be settled. */
  admit(): Admission {
    if (this.#state === BreakerState.closed) return ALLOWED;
    const now = this.#clock.now();
    if (this.#state === BreakerState.open) {
      if (now < this.#openUntil) return { allowed: false, retryAfterMs: this.#openUntil - now };
      this.#transition(BreakerState.halfOpen);
    }
    if (this.#probeInFlight)
      return { allowed: false, retryAfterMs: Math.min(1000, this.#options.cooldownMs) };
    this.#probeInFlight = true;
    return PROBE;
  }

  /** The request succeeded. */
  onSuccess(admission: Admission): void {
    this.#failures = 0;
    if (!isProbe(admission)) return;
    this.#probeInFlight = false;
    this.#opens = 0;
    this.#transition(BreakerState.closed);
  }

  /** The request failed in a way that counts against the model (retries exhausted, deadline, timeout). */
  onFailure(admission: Admission): void {
    if (isProbe(admission)) {
      this.#probeInFlight = false;
      this.#open();
      return;
    }
    // Failures of requests admitted before the breaker opened change nothing once it is open.
    if (this.#state !== BreakerState.closed) return;
    this.#failures += 1;
    if (this.#failures >= this.#options.failureThreshold) this.#open();
  }

  /** The request ended without a verdict (client went away, client error): free the probe slot. */
  onAbandon(admission: Admission): void {
    if (isProbe(admission)) this.#probeInFlight = false;
  }

  #open(): void {
    this.#opens += 1;
    const { cooldownMs, maxCooldownMs } = this.#options;
    const grown = Math.min(maxCooldownMs, cooldownMs * 2 ** (this.#opens - 1));
    // Up to 20% jitter, so the breakers of many sidecars do not probe the gateway in lockstep:
    // on the first cooldown too (sidecars that saw the same outage open together, issue 10), and
    // at the cap. Drawn below the grown value, so neither BREAKER_COOLDOWN_MS nor the cap is
    // exceeded, and a jitter added before the cap would vanish at it.
    this.#openUntil = this.#clock.now() + grown * (1 - 0.2 * this.#random());
    this.#failures = 0;
    this.#transition(BreakerState.open);
  }

  #transition(state: BreakerState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#onStateChange(state);
  }
}

function isProbe(admission: Admission): boolean {
  return admission.allowed && admission.probe;
}
