/**
 * The headers a model-aware gateway routes by, set from the model backstop read in the body: what
 * Body-Based Routing (GAIE) sets, `X-Gateway-Model-Name` and, from GAIE v1.3, for a LoRA adapter
 * `X-Gateway-Base-Model-Name` (../shared/reference/endpoint-picker-facts.md). An HTTPRoute whose
 * rules match them sends each request to its model's own InferencePool, so the pool's endpoint
 * picker, blind to `model`, only picks among pods that serve it (issue 11). A gateway without such
 * rules ignores both.
 */

/** The header GAIE's BBR sets for a LoRA adapter's base model; HTTPRoutes match it for adapters. */
export const BASE_MODEL_HEADER = 'x-gateway-base-model-name';

/** What ROUTING_HEADERS, ROUTING_HEADER_NAME, BASE_MODELS and MODEL_ALIASES say, resolved once. */
export interface RoutingHeaders {
  /** The model header's name, lower-cased; `undefined` when ROUTING_HEADERS is off. */
  readonly name: string | undefined;
  /** Requested name -> base model, explicit (BASE_MODELS) or derived (MODEL_ALIASES). */
  readonly bases: ReadonlyMap<string, string>;
}

/**
 * The base model of each name: BASE_MODELS as given, plus, for every MODEL_ALIASES entry that
 * accepts exactly one served name other than itself, that name (or the base BASE_MODELS gives
 * it, when the served name is itself an adapter). An alias accepting several served names is
 * ambiguous (they may be different pods) and gets none; an explicit BASE_MODELS entry always wins.
 */
export function baseModelsOf(
  explicit: ReadonlyMap<string, string>,
  aliases: ReadonlyMap<string, readonly string[]>,
): Map<string, string> {
  const bases = new Map(explicit);
  for (const [alias, served] of aliases) {
    if (bases.has(alias)) continue;
    const names = [...new Set(served)].filter((name) => name !== alias);
    const name = names[0];
    if (names.length !== 1 || name === undefined) continue;
    bases.set(alias, explicit.get(name) ?? name);
  }
  return bases;
}

/** Resolves the settings into the headers to set. */
export function routingHeadersOf(config: {
  routingHeaders: boolean;
  routingHeaderName: string;
  baseModels: ReadonlyMap<string, string>;
  modelAliases: ReadonlyMap<string, readonly string[]>;
}): RoutingHeaders {
  return {
    name: config.routingHeaders ? config.routingHeaderName.toLowerCase() : undefined,
    bases: baseModelsOf(config.baseModels, config.modelAliases),
  };
}

// A header value backstop can send as the gateway reads it: printable ASCII, inner spaces allowed
// (RFC 9110 field-value without obs-text). Anything else would be sent as latin1, not as the UTF-8
// the body holds, and could not match an HTTPRoute rule's value.
const SENDABLE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * Sets the routing headers on `headers` (lower-case names, as upstreamRequestHeaders builds them)
 * for `model`, the body's model: the client's values are replaced, never appended to, so a client
 * cannot route a request for one model to another model's pool. A model whose name cannot be sent
 * as a header gets none (and the client's are removed). With ROUTING_HEADERS off, nothing changes.
 */
export function setRoutingHeaders(
  headers: Record<string, string | string[]>,
  routing: RoutingHeaders,
  model: string | undefined,
): Record<string, string | string[]> {
  if (routing.name === undefined || model === undefined) return headers;
  delete headers[routing.name];
  delete headers[BASE_MODEL_HEADER];
  if (!SENDABLE.test(model)) return headers;
  headers[routing.name] = model;
  const base = routing.bases.get(model);
  if (base !== undefined && SENDABLE.test(base)) headers[BASE_MODEL_HEADER] = base;
  return headers;
}
