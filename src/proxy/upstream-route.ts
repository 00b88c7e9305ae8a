import type { Upstream } from '../events.ts';
import type { Admission, ModelPolicy } from '../resilience/index.ts';
import type { AttemptSpec } from './attempt.ts';
import { BreakerTicket } from './breaker-ticket.ts';

/**
 * Where one request's attempts go (issue 11, direct fallback): the gateway, or its model's own
 * endpoint (MODEL_ENDPOINTS), each with its own breaker verdict and budgets, so a dead fallback
 * cannot hide a healthy gateway or the reverse. The request moves direct at most once, and back
 * to the gateway at most once, when the gateway was only misrouting it.
 */
export class UpstreamRoute {
  upstream: Upstream = 'gateway';
  /** The spec of the next attempt. */
  spec: AttemptSpec;
  /** The current upstream's breaker and budgets; undefined for routes without a model. */
  policy: ModelPolicy | undefined;
  readonly #gatewaySpec: AttemptSpec;
  readonly #directSpec: AttemptSpec | undefined;
  readonly #directPolicy: ModelPolicy | undefined;
  readonly #gatewayTicket = new BreakerTicket();
  readonly #directTicket = new BreakerTicket();
  #gatewayPolicy: ModelPolicy | undefined;
  /** The request went direct after routing misses: the gateway still answers for it. */
  #gatewayUsable = false;
  #directTried = false;

  constructor(gateway: AttemptSpec, direct: AttemptSpec | undefined, directPolicy: ModelPolicy | undefined) {
    this.spec = gateway;
    this.#gatewaySpec = gateway;
    this.#directSpec = direct;
    this.#directPolicy = direct === undefined ? undefined : directPolicy;
  }

  /** The gateway's policy for the request's model. */
  useGateway(policy: ModelPolicy): void {
    this.policy = policy;
    this.#gatewayPolicy = policy;
  }

  /** The gateway's breaker admitted the request: its verdict is owed. */
  holdGateway(admission: Admission): void {
    if (this.#gatewayPolicy !== undefined) this.#gatewayTicket.hold(this.#gatewayPolicy, admission);
  }

  /**
   * Moves the request to its model's own endpoint, once, if it has one and that endpoint's
   * breaker admits it; `verdict` is what the gateway gets for this request (`refused`: its
   * breaker refused the request, so it holds no verdict to give).
   */
  goDirect(verdict: 'failure' | 'abandon' | 'refused'): boolean {
    const policy = this.#directPolicy;
    if (this.#directTried || policy === undefined || this.#directSpec === undefined) return false;
    const admission = policy.breaker.admit();
    if (!admission.allowed) return false;
    this.#directTried = true;
    this.#gatewayUsable = verdict === 'abandon';
    if (verdict !== 'refused') this.#gatewayTicket.settle(verdict);
    this.#directTicket.hold(policy, admission);
    policy.budget.recordRequest();
    policy.misrouteBudget.recordRequest();
    this.upstream = 'direct';
    this.spec = this.#directSpec;
    this.policy = policy;
    return true;
  }

  /**
   * A model's endpoint that fails a request the gateway was only misrouting hands it back: the
   * gateway's misses cost milliseconds, and a dead fallback must not fail what the gateway serves.
   */
  backToGateway(): boolean {
    if (this.upstream !== 'direct' || !this.#gatewayUsable) return false;
    this.#directTicket.settle('failure');
    this.upstream = 'gateway';
    this.spec = this.#gatewaySpec;
    this.policy = this.#gatewayPolicy;
    return true;
  }

  /** The breaker verdict owed by the current upstream. */
  get ticket(): BreakerTicket {
    return this.upstream === 'direct' ? this.#directTicket : this.#gatewayTicket;
  }

  /**
   * The request gave up: every way out on a model's endpoint is a failure there; on the gateway,
   * `gatewayVerdict` (routing misses may not count).
   */
  failed(gatewayVerdict: 'failure' | 'abandon'): void {
    if (this.upstream === 'direct') this.#directTicket.settle('failure');
    else this.#gatewayTicket.settle(gatewayVerdict);
  }

  /** No verdict (client gone, a bug, or already given): frees any probe slot still held. */
  abandon(): void {
    this.#gatewayTicket.settle('abandon');
    this.#directTicket.settle('abandon');
  }
}
