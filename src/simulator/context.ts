import type { EndpointPicker } from './endpoint-picker.ts';
import type { SimFaults } from './faults.ts';
import type { SimModel } from './models.ts';
import type { Rng } from './rng.ts';
import type { StatsRecorder } from './stats.ts';
import type { VllmPod } from './vllm-pod.ts';

/** The state one simulator instance shares across its requests. */
export interface SimContext {
  models: ReadonlyMap<string, SimModel>;
  /** Model names in the configured order (the order discovery draws in). */
  backends: readonly string[];
  defaultVisibility: Readonly<Record<string, number>>;
  timeScale: number;
  /** The current faults; replaced (never mutated) on each change. */
  faults: Readonly<SimFaults>;
  /** One vLLM pod per model, keyed by the model it serves. */
  pods: ReadonlyMap<string, VllmPod>;
  picker: EndpointPicker;
  /** Forces the discovery picker to refresh its view (after a faults change). */
  invalidateView: () => void;
  stats: StatsRecorder;
  /** Independent seeded streams, one per concern. */
  rng: { faults: Rng; latency: Rng; misroute: Rng };
  /** The next response id number. */
  sequence: number;
}
