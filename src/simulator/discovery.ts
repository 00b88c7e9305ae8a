import type { SimFaults } from './faults.ts';
import type { Rng } from './rng.ts';

/** Where the EPP sends a request: its model's backend, another one, or nowhere. */
export type Route = { kind: 'own'; backend: string } | { kind: 'other'; backend: string } | { kind: 'none' };

/** Inputs of one routing decision. */
export interface DiscoveryContext {
  faults: Readonly<SimFaults>;
  /** Backend (model) names, in a fixed order: the order the RNG is drawn in. */
  backends: readonly string[];
  /** Default visibility per backend, used when faults.visibility has no entry. */
  defaultVisibility: Readonly<Record<string, number>>;
  /** Multiplier on discoveryIntervalMs. */
  timeScale: number;
}

/** The EPP's view of its backends, as it flaps. */
export interface Discovery {
  /** Routes a request for `model` (one of the backends, or any name: unknown names are never "own"). */
  route(model: string, context: DiscoveryContext): Route;
  /** Forces a refresh on the next request (after a faults change, which must apply to the next request). */
  invalidate(): void;
}

/**
 * Models the llm-d EPP's intermittent backend discovery (reference report: it "may temporarily
 * lose visibility of one or both backends"). At each refresh every backend becomes visible with its
 * probability, independently. A request goes to its model's backend if visible; else to another
 * visible backend (the EPP scores only what it sees, and the wrong vLLM answers); else nowhere (503).
 *
 * With discoveryIntervalMs 0 (the default) the view is drawn afresh for each request: attempts are
 * then independent whatever the client's retry spacing, and the sequence depends only on request
 * order, not on wall-clock time, so seeded runs reproduce. With an interval, the view is redrawn
 * lazily on the first request of each new period (epoch of `now()`), so fast retries see the same view.
 */
export function createDiscovery(rng: Rng, now: () => number): Discovery {
  let epoch = Number.NaN;
  let visible: string[] = [];

  function refresh(context: DiscoveryContext): void {
    const { faults, backends, defaultVisibility } = context;
    visible = [];
    for (const backend of backends) {
      // Draw for every backend, even one in outage, so that an outage does not shift the others' draws.
      const p = faults.visibility[backend] ?? defaultVisibility[backend] ?? 0.5;
      if (rng.next() < p && !faults.outage.includes(backend)) visible.push(backend);
    }
  }

  return {
    route(model, context) {
      const { faults, backends, timeScale } = context;
      if (!faults.flapping) {
        visible = backends.filter((b) => !faults.outage.includes(b));
        epoch = Number.NaN;
      } else {
        const period = faults.discoveryIntervalMs * timeScale;
        if (period <= 0) {
          refresh(context);
        } else {
          const current = Math.floor(now() / period);
          if (current !== epoch) {
            epoch = current;
            refresh(context);
          }
        }
      }
      if (visible.includes(model)) return { kind: 'own', backend: model };
      const others = visible.filter((b) => b !== model);
      if (others.length === 0) return { kind: 'none' };
      const backend = others.length === 1 ? others[0] : others[Math.floor(rng.next() * others.length)];
      return backend === undefined ? { kind: 'none' } : { kind: 'other', backend };
    },
    invalidate() {
      epoch = Number.NaN;
    },
  };
}
