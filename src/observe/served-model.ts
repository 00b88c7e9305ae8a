import { type AttemptResult, retryClassOf } from '../verify/index.ts';
import { ModelLabels } from './model-label.ts';

/** The `served_model` value of a misroute whose answer does not say who answered. */
export const UNKNOWN_SERVED_MODEL = 'unknown';

/**
 * Who answered a misrouted attempt, as a bounded label value (the `served_model` label of
 * backstop_misroutes_total, and the misroute warning):
 * - a wrong-model answer (`model_mismatch`) names its model: that name;
 * - a vLLM 404 (`model_not_found`) names only the requested model ("The model `X` does not
 *   exist."), never the pod's own. It came from a pod that does not serve the requested model, so
 *   when exactly one other model has answered through this gateway (a verified answer seen by this
 *   process), it is that model; with none or several, `unknown`. The inference assumes the pool
 *   holds only models this backstop is asked for; a pool with a model nobody asks for here can
 *   make it name the wrong one (the diagnosis, a pool mixing models, stays right).
 * Names are bounded like `model` (MODELS, or the first METRICS_MAX_MODELS names, then `other`),
 * in a set of their own: answers from a misbehaving gateway cannot crowd out requested names.
 */
export class ServedModels {
  readonly #labels: ModelLabels;
  /** Label values of the models that gave a verified answer. */
  readonly #answered = new Set<string>();

  constructor(models: ReadonlySet<string> | undefined, maxModels: number) {
    this.#labels = new ModelLabels(models, maxModels);
  }

  /**
   * Records one attempt for `model` (the requested name); returns the `served_model` label when
   * the attempt was a routing miss, undefined otherwise.
   */
  observe(model: string, result: AttemptResult, servedModel: string | undefined): string | undefined {
    if (result === 'ok') {
      this.#answered.add(this.#labels.label(model));
      return undefined;
    }
    if (retryClassOf(result) !== 'misroute') return undefined;
    if (servedModel !== undefined) return this.#labels.label(servedModel);
    return this.#onlyOther(this.#labels.label(model));
  }

  #onlyOther(requested: string): string {
    let only: string | undefined;
    for (const label of this.#answered) {
      // `other` stands for many names: it never rules itself out.
      if (label === requested && label !== 'other') continue;
      if (only !== undefined) return UNKNOWN_SERVED_MODEL;
      only = label;
    }
    return only ?? UNKNOWN_SERVED_MODEL;
  }
}
