/**
 * Bounds the `model` label: the request's model is client-controlled, and one label value per
 * name a client invents would grow the series without end. With an allowlist (MODELS) only those
 * names are used; otherwise the first `max` names seen, then `other`. Routes without a model
 * (`GET /v1/models`) are labelled `none`.
 */
export class ModelLabels {
  readonly #allowed: ReadonlySet<string> | undefined;
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(allowed: ReadonlySet<string> | undefined, max: number) {
    this.#allowed = allowed;
    this.#max = max;
  }

  label(model: string): string {
    if (model === '') return 'none';
    if (this.#allowed !== undefined) return this.#allowed.has(model) ? model : 'other';
    if (this.#seen.has(model)) return model;
    if (this.#seen.size >= this.#max) return 'other';
    this.#seen.add(model);
    return model;
  }
}
