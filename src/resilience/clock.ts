/** Time source for resilience policies; injected so tests can drive time by hand. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
}

/** The process's monotonic clock (`performance.now()`), immune to wall-clock jumps. */
export const systemClock: Clock = { now: () => performance.now() };

/** A uniform random number in [0, 1); injected so tests can seed it. */
export type Random = () => number;
