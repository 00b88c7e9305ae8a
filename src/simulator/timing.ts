import type { FixedLatency } from './faults.ts';
import { sampleLatency } from './latency-profile.ts';
import type { SimModel } from './models.ts';
import type { Rng } from './rng.ts';

/**
 * A gateway round-trip that never reaches a model: misrouted 404s (vLLM rejects the model name
 * before scheduling), the EPP's 503, Envoy's errors. A few ms, like the real thing.
 */
export const GATEWAY_MS = 3;

// The report measured at max_tokens 15: its non-streaming latency already includes 15 tokens of decode.
const PROFILE_TOKENS = 15;

/** When each part of a response is due, in scaled ms. */
export interface Timing {
  /** First SSE token (and the headers-to-first-byte gap of a streamed response). */
  ttftMs: number;
  /** Gap between successive SSE tokens. */
  tpotMs: number;
  /** When a non-streaming response is sent. */
  jsonMs: number;
}

/**
 * The timing of one generation of `tokens` tokens. With the T4 profile, a non-streaming response
 * takes one profile sample (the report's "TTFT" for non-streaming requests is the end-to-end time)
 * plus TPOT for each token beyond 15; a stream's first token comes at one profile sample, then one
 * token per TPOT. With a fixed latency: first token at ttftMs, the rest tpotMs apart, and a
 * non-streaming response when the last token would be out. Everything is multiplied by timeScale;
 * at 0 nothing is drawn.
 */
export function timing(
  model: SimModel,
  fixed: FixedLatency | null,
  tokens: number,
  timeScale: number,
  rng: Rng,
): Timing {
  if (timeScale <= 0) return { ttftMs: 0, tpotMs: 0, jsonMs: 0 };
  if (fixed) {
    const jsonMs = fixed.ttftMs + Math.max(0, tokens - 1) * fixed.tpotMs;
    return { ttftMs: fixed.ttftMs * timeScale, tpotMs: fixed.tpotMs * timeScale, jsonMs: jsonMs * timeScale };
  }
  const sample = sampleLatency(model.ttft, rng);
  const jsonMs = sample + Math.max(0, tokens - PROFILE_TOKENS) * model.tpotMs;
  return { ttftMs: sample * timeScale, tpotMs: model.tpotMs * timeScale, jsonMs: jsonMs * timeScale };
}
