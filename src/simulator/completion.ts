import type { IncomingMessage } from 'node:http';
import { generateTokens } from './content.ts';
import type { SimContext } from './context.ts';
import {
  badRequest,
  contextLengthMessage,
  EPP_QUEUE_TTL_BODY,
  EPP_SATURATED_BODY,
  modelNotFoundFlat,
  modelNotFoundNested,
} from './error-bodies.ts';
import type { Exchange } from './exchange.ts';
import { respondNoBackend, respondWithFault } from './fault-responses.ts';
import { anyFaultRate, drawFault } from './faults.ts';
import type { SimModel } from './models.ts';
import { type CompletionRequest, type Endpoint, parseCompletionRequest } from './request.ts';
import { sseStyle, startStream, streamFrames } from './sse-writer.ts';
import { GATEWAY_MS, timing } from './timing.ts';
import { promptTokens } from './tokens.ts';
import { completionJson, type Generation, sseFrames } from './vllm-responses.ts';

const JSON_HEADERS = () => ({ 'content-type': 'application/json' });
const TEXT = 'text/plain; charset=utf-8';
/** The header llm-d's router adds to a request it drops (../shared/reference/endpoint-picker-facts.md). */
const DROPPED_REASON = 'x-llm-d-request-dropped-reason';
/** The header Body-Based Routing sets and an HTTPRoute rule matches (faults.headerRouting). */
const MODEL_HEADER = 'x-gateway-model-name';

function generation(
  ctx: SimContext,
  request: CompletionRequest,
  model: SimModel,
  promptTokens: number,
): Generation {
  const count = ctx.faults.latency?.tokens ?? request.maxTokens;
  ctx.sequence++;
  return {
    endpoint: request.endpoint,
    id: `${request.endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-sim${ctx.sequence.toString(16).padStart(8, '0')}`,
    created: Math.floor(Date.now() / 1000),
    model: model.name,
    tokens: generateTokens(model.name, request.prompt, count),
    promptTokens,
  };
}

/** A backend generates: vLLM's context check, then the JSON body or the token stream on the latency profile. */
function serve(
  ctx: SimContext,
  ex: Exchange,
  request: CompletionRequest,
  backend: SimModel,
  wrongModel: boolean,
): void {
  const prompt = promptTokens(backend, request.prompt);
  if (prompt + request.maxTokens > backend.contextLength) {
    ex.outcome('bad_request');
    const message = contextLengthMessage(backend.contextLength, prompt, request.maxTokens);
    ex.after(GATEWAY_MS * ctx.timeScale, () => ex.send(400, JSON_HEADERS(), badRequest(message)));
    return;
  }
  const pod = ctx.pods.get(backend.name);
  if (pod === undefined) throw new Error(`no pod serves ${backend.name}`);
  const flow = ctx.faults.flowControl;
  const policy =
    flow === null
      ? null
      : {
          maxQueue: flow.maxQueue,
          ttlMs: flow.queueTtlMs * ctx.timeScale,
          onExpired: (expired: Exchange) => {
            expired.outcome('queue_ttl_503');
            expired.send(
              503,
              { 'content-type': TEXT, [DROPPED_REASON]: 'rejected-ttl-expired' },
              EPP_QUEUE_TTL_BODY,
            );
          },
        };
  const admission = pod.admit(
    ex,
    () => generate(ctx, ex, request, backend, prompt, wrongModel),
    ctx.faults.maxNumSeqs,
    policy,
  );
  if (admission === 'queued') ctx.stats.queued(pod.model, pod.waiting);
  if (admission === 'queue_full') {
    ex.outcome('queue_full_429');
    ex.after(GATEWAY_MS * ctx.timeScale, () =>
      ex.send(429, { 'content-type': TEXT, [DROPPED_REASON]: 'rejected-saturated' }, EPP_SATURATED_BODY),
    );
  }
}

/** A pod's sequence slot is ours: generate on the latency profile, from now (a queue wait comes first). */
function generate(
  ctx: SimContext,
  ex: Exchange,
  request: CompletionRequest,
  backend: SimModel,
  prompt: number,
  wrongModel: boolean,
): void {
  const g = generation(ctx, request, backend, prompt);
  const t = timing(backend, ctx.faults.latency, g.tokens.length, ctx.timeScale, ctx.rng.latency);
  const outcome = wrongModel ? 'wrong_model_200' : 'served';
  if (!request.stream) {
    ex.after(t.jsonMs, () => {
      ex.send(200, JSON_HEADERS(), completionJson(g));
      ex.outcome(outcome);
    });
    return;
  }
  const style = sseStyle(ctx.faults.sseQuirks);
  startStream(ex, style);
  ctx.stats.streamStarted();
  streamFrames(ex, sseFrames(g, request.includeUsage, style.eol), t, style, () => {
    ctx.stats.streamCompleted();
    ex.outcome(outcome);
  });
}

/** A request the EPP sent to `backend`, which serves another model. */
function misroute(ctx: SimContext, ex: Exchange, request: CompletionRequest, backend: SimModel): void {
  const mode = ctx.faults.misroute;
  if (mode === 'wrong-model-200') {
    serve(ctx, ex, request, backend, true);
    return;
  }
  ex.outcome('misrouted_404');
  const flat = mode === '404-flat' || (mode === '404-mixed' && ctx.rng.misroute.next() < 0.5);
  const body = flat ? modelNotFoundFlat(request.model) : modelNotFoundNested(request.model);
  ex.after(GATEWAY_MS * ctx.timeScale, () => ex.send(404, JSON_HEADERS(), body));
}

/**
 * Handles POST /v1/chat/completions and /v1/completions: validate like vLLM, maybe inject a fault,
 * let the EPP route, and answer as the backend it picked.
 */
export function handleCompletion(
  ctx: SimContext,
  ex: Exchange,
  endpoint: Endpoint,
  raw: string,
  req: IncomingMessage,
  path: string,
): void {
  const parsed = parseCompletionRequest(endpoint, raw);
  const requested = parsed.ok ? parsed.request.model : null;
  ctx.stats.observe(req.method ?? 'POST', path, requested, parsed.ok && parsed.request.stream, req.headers);
  ex.model = requested;
  if (!parsed.ok) {
    ex.outcome('bad_request');
    ex.send(400, JSON_HEADERS(), badRequest(parsed.message));
    return;
  }
  const request = parsed.request;
  const model = ctx.models.get(request.model);
  if (model === undefined) {
    // No backend serves it: whichever vLLM the EPP picks answers 404.
    ex.outcome('unknown_model');
    ex.after(GATEWAY_MS * ctx.timeScale, () =>
      ex.send(404, JSON_HEADERS(), modelNotFoundNested(request.model)),
    );
    return;
  }
  const faults = ctx.faults;
  if (anyFaultRate(faults)) {
    const fault = drawFault(faults, request.model, request.stream, ctx.rng.faults);
    if (fault !== null) {
      ctx.stats.fault(fault, request.model);
      const prompt = promptTokens(model, request.prompt);
      const g = generation(ctx, request, model, prompt);
      const t = timing(model, faults.latency, g.tokens.length, ctx.timeScale, ctx.rng.latency);
      respondWithFault(fault, {
        ctx,
        ex,
        request,
        generation: g,
        timing: t,
        style: sseStyle(faults.sseQuirks),
      });
      return;
    }
  }
  const header = req.headers[MODEL_HEADER];
  const route = ctx.picker.pick(request.model, typeof header === 'string' ? header : undefined, ctx);
  if (route.kind === 'none') {
    respondNoBackend(ctx, ex);
    return;
  }
  const backend = ctx.models.get(route.backend);
  if (backend === undefined) throw new Error(`the picker routed to unknown backend ${route.backend}`);
  ctx.stats.picked(backend.name, route.kind === 'other');
  if (route.kind === 'own') serve(ctx, ex, request, backend, false);
  else misroute(ctx, ex, request, backend);
}
