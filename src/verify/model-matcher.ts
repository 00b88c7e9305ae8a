/** Decides whether a response's `model` is the requested model. */
export type ModelMatcher = (requested: string, served: unknown) => boolean;

/**
 * Accepts the requested name itself and the names MODEL_ALIASES lists for it (vLLM's
 * `--served-model-name`, LoRA adapters): `alias=served-name` accepts `served-name` for `alias`.
 */
export function createModelMatcher(aliases: ReadonlyMap<string, readonly string[]>): ModelMatcher {
  if (aliases.size === 0) return (requested, served) => served === requested;
  return (requested, served) =>
    served === requested ||
    (typeof served === 'string' && (aliases.get(requested)?.includes(served) ?? false));
}
