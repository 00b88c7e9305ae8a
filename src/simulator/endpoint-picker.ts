import type { Discovery, DiscoveryContext, Route } from './discovery.ts';
import type { SimFaults } from './faults.ts';
import type { Rng } from './rng.ts';
import type { VllmPod } from './vllm-pod.ts';

/** What one pick reads: the faults in force, the pods, and the discovery inputs. */
export interface PickContext extends DiscoveryContext {
  pods: ReadonlyMap<string, VllmPod>;
}

/** The gateway's routing decision for one request: HTTPRoute header rules, then the pool's EPP. */
export interface EndpointPicker {
  /**
   * Where a request for `model` goes. `headerModel` is its X-Gateway-Model-Name header, which an
   * HTTPRoute rule matches when `faults.headerRouting` is on.
   */
  pick(model: string, headerModel: string | undefined, context: PickContext): Route;
}

/** The model whose pod `faults.staleView` hides from the picker at `nowMs`, if any. */
export function hiddenByStaleView(
  faults: Readonly<SimFaults>,
  nowMs: number,
  timeScale: number,
): string | null {
  const stale = faults.staleView;
  if (stale === null) return null;
  const every = stale.everyMs * timeScale;
  if (every <= 0) return null;
  return nowMs % every < stale.forMs * timeScale ? stale.model : null;
}

/**
 * The endpoint picker as the GAIE EPP decides (../shared/reference/endpoint-picker-facts.md): its
 * default profile has only load scorers (queue, KV cache, prefix) and no filter by model, so
 * among the ready pods of the one pool it takes the least loaded (running + waiting sequences),
 * ties broken at random. At low load that is a coin flip per request; under load a busy model's
 * requests keep landing on the idle other pod until the queues even out.
 *
 * Around it: with `headerRouting`, an HTTPRoute rule sends a request whose X-Gateway-Model-Name
 * names a model to that model's own pool (the fixed deployment: one pool per model). With
 * `flapping` false every request reaches its own pod (as if the pool held one model). The
 * `discovery` picker is the earlier guess (the report's "intermittent discovery"), kept selectable.
 */
export function createEndpointPicker(rng: Rng, discovery: Discovery, now: () => number): EndpointPicker {
  return {
    pick(model, headerModel, context) {
      const { faults, pods } = context;
      const hidden = hiddenByStaleView(faults, now(), context.timeScale);
      const ready = (name: string) => name !== hidden && !faults.outage.includes(name);
      const target =
        faults.headerRouting && headerModel !== undefined && pods.has(headerModel) ? headerModel : null;
      if (target !== null || !faults.flapping) {
        const pod = target ?? model;
        if (!pods.has(pod) || !ready(pod)) return { kind: 'none' };
        return pod === model ? { kind: 'own', backend: pod } : { kind: 'other', backend: pod };
      }
      if (faults.picker === 'discovery') {
        const outage = hidden === null ? faults.outage : [...faults.outage, hidden];
        return discovery.route(
          model,
          hidden === null ? context : { ...context, faults: { ...faults, outage } },
        );
      }
      let best: VllmPod | undefined;
      let ties = 0;
      for (const name of context.backends) {
        const pod = pods.get(name);
        if (pod === undefined || !ready(name)) continue;
        if (best === undefined || pod.load < best.load) {
          best = pod;
          ties = 1;
        } else if (pod.load === best.load) {
          // Reservoir sampling over the tied pods: each is kept with probability 1/ties.
          ties++;
          if (rng.next() * ties < 1) best = pod;
        }
      }
      if (best === undefined) return { kind: 'none' };
      return best.model === model
        ? { kind: 'own', backend: best.model }
        : { kind: 'other', backend: best.model };
    },
  };
}
