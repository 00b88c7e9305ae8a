import type { SimContext } from './context.ts';
import {
  EPP_NO_BACKEND_BODY,
  IN_BAND_ERROR_PAYLOAD,
  NO_HEALTHY_UPSTREAM_BODY,
  RATE_LIMITED_BODY,
} from './error-bodies.ts';
import type { Exchange } from './exchange.ts';
import type { FaultName } from './faults.ts';
import type { CompletionRequest } from './request.ts';
import { type SseStyle, startStream, writeFrame } from './sse-writer.ts';
import { GATEWAY_MS, type Timing } from './timing.ts';
import {
  completionJson,
  completionJsonAround,
  DONE_PAYLOAD,
  type Generation,
  sseEvent,
  sseFrames,
} from './vllm-responses.ts';

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';

// Filler for oversized bodies, built once per size: 32 MiB per request would churn the heap.
let filler: Buffer | undefined;
function fillerOf(size: number): Buffer {
  if (filler?.length !== size) filler = Buffer.alloc(size, 'a');
  return filler;
}

/** What a fault response needs to know. */
export interface FaultInput {
  ctx: SimContext;
  ex: Exchange;
  request: CompletionRequest;
  generation: Generation;
  timing: Timing;
  style: SseStyle;
}

/** Answers a request with `fault` instead of routing it. */
export function respondWithFault(fault: FaultName, input: FaultInput): void {
  const { ctx, ex, generation: g, timing: t, style } = input;
  const gateway = GATEWAY_MS * ctx.timeScale;
  const scaled = { json: t.jsonMs, ttft: t.ttftMs };
  switch (fault) {
    case 'reset':
      ex.outcome('reset');
      ex.after(gateway, () => ex.reset());
      return;
    case 'hang':
      // Accept and read the request, then never answer: only the client (or close()) ends it.
      ex.outcome('hang');
      return;
    case 'rateLimit': {
      ex.outcome('rate_limited');
      const seconds = ctx.faults.retryAfterSeconds;
      const headers =
        seconds === null
          ? { 'content-type': JSON_TYPE }
          : { 'content-type': JSON_TYPE, 'retry-after': String(seconds) };
      ex.after(gateway, () => ex.send(429, headers, RATE_LIMITED_BODY));
      return;
    }
    case 'noHealthyUpstream':
      ex.outcome('no_healthy_upstream');
      ex.after(gateway, () => ex.send(503, { 'content-type': TEXT }, NO_HEALTHY_UPSTREAM_BODY));
      return;
    case 'garbageJson': {
      // Starts like a correct answer (right model and all) and stops inside `choices`: a regex
      // "verifier" is fooled, JSON.parse is not.
      ex.outcome('garbage_json');
      const body = completionJson(g);
      const garbage = body.slice(0, body.indexOf('"choices"') + 20);
      ex.after(scaled.json, () => ex.send(200, { 'content-type': JSON_TYPE }, garbage));
      return;
    }
    case 'oversizedJson': {
      ex.outcome('oversized_json');
      const { head, tail } = completionJsonAround(g);
      const size = Math.max(0, ctx.faults.oversizedBytes - Buffer.byteLength(head) - Buffer.byteLength(tail));
      ex.after(scaled.json, () => {
        const pad = fillerOf(size);
        ex.res.writeHead(200, {
          'content-type': JSON_TYPE,
          'content-length': Buffer.byteLength(head) + size + Buffer.byteLength(tail),
        });
        ex.res.write(head);
        ex.res.write(pad);
        ex.res.end(tail);
      });
      return;
    }
    case 'resetMidStream':
      ex.outcome('reset_mid_stream');
      if (input.request.stream) {
        startStream(ex, style);
        const first = sseFrames(g, false, style.eol)[0] ?? '';
        ex.after(scaled.ttft, () => ex.res.write(first, () => ex.cut()));
      } else {
        const body = completionJson(g);
        ex.after(scaled.json, () => {
          ex.res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
          ex.res.write(body.slice(0, body.length >> 1), () => ex.cut());
        });
      }
      return;
    case 'truncatedSse': {
      ex.outcome('truncated_sse');
      // At least two tokens, so that frame 0 never holds [DONE]; then half of the next event and a clean end.
      const frames = sseFrames(
        g.tokens.length >= 2 ? g : { ...g, tokens: [...g.tokens, ' more'] },
        false,
        style.eol,
      );
      const first = frames[0] ?? '';
      const half = (frames[1] ?? '').slice(0, (frames[1] ?? '').length >> 1);
      startStream(ex, style);
      ex.after(scaled.ttft, () =>
        writeFrame(ex, first, style, true, () => ex.after(t.tpotMs, () => ex.res.end(half))),
      );
      return;
    }
    case 'inBandError':
      // vLLM reports an engine failure after the 200 went out: as the first data event.
      ex.outcome('in_band_error');
      startStream(ex, style);
      ex.after(scaled.ttft, () =>
        ex.res.end(sseEvent(IN_BAND_ERROR_PAYLOAD, style.eol) + sseEvent(DONE_PAYLOAD, style.eol)),
      );
      return;
  }
}

/** The EPP's 503 when it sees no backend. */
export function respondNoBackend(ctx: SimContext, ex: Exchange): void {
  ex.outcome('no_backend_503');
  ex.after(GATEWAY_MS * ctx.timeScale, () => ex.send(503, { 'content-type': TEXT }, EPP_NO_BACKEND_BODY));
}
