/**
 * Seeded randomness for the simulator. Nothing here calls `Math.random`: a run is reproducible
 * given the seed and the order in which requests arrive.
 */

/** A source of uniform numbers in [0, 1). */
export interface Rng {
  /** The next uniform number in [0, 1). */
  next(): number;
}

/**
 * mulberry32: a 32-bit state PRNG, tiny and fast, with good enough statistics for drawing
 * latencies and coin flips (it passes gjrand's tests up to a few GB, far beyond a test run).
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return {
    next() {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** 32-bit FNV-1a of a string: a stable hash for seeds and deterministic content. */
export function hashString(text: string, basis = 0x811c9dc5): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * A seed for an independent stream named `label`. Each concern (discovery, faults, latency) draws
 * from its own stream so that, say, turning a fault on does not shift the EPP's visibility sequence.
 */
export function deriveSeed(seed: number, label: string): number {
  return hashString(label, hashString(String(seed >>> 0)));
}
