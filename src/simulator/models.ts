import type { QuantilePoints } from './latency-profile.ts';

/** One model the simulated gateway serves, each on its own simulated vLLM backend. */
export interface SimModel {
  /** The served model name, matched against the request's `model`. */
  name: string;
  /** vLLM's `max_model_len`: prompt tokens + max_tokens above it get a 400. */
  contextLength: number;
  /**
   * Tokens the real tokenizer adds to every prompt (BOS, chat template, default system turn).
   * Chosen so that a short prompt at max_tokens 15 totals what the T4 report measured.
   */
  promptOverheadTokens: number;
  /**
   * Time to first token at max_tokens 15, as an inverse CDF: (quantile, ms) points, linearly
   * interpolated. For non-streaming requests this is the whole response time (see latency-profile.ts).
   */
  ttft: QuantilePoints;
  /** Time per output token after the first, in ms. */
  tpotMs: number;
  /** Probability that the EPP sees this backend after a refresh, unless SimFaults.visibility says otherwise. */
  visibility: number;
}

/**
 * The two models of the measured Pattern 2 deployment (reference/pattern2-gpu-results.md), one T4
 * each. TTFT points fit the report: Phi-3 mean 1848 / p50 1906 / p95 1994 ms (left-skewed: a tail of
 * fast answers pulls the mean under the median), Gemma mean 1081 / p50 1047 / p95 1346 ms
 * (right-skewed). TPOT is not in the report; decode on a T4 is memory-bound (320 GB/s): Phi-3's
 * 7.6 GB of fp16 weights need >= 24 ms per token, Gemma's 5 GB >= 16 ms, so 28 and 20 ms with overhead.
 * Visibility 0.5 and 0.45 give first-try success 50% / 45% and 2.0 / 2.2 mean attempts, as reported.
 */
export const DEFAULT_MODELS: readonly SimModel[] = Object.freeze([
  Object.freeze({
    name: 'microsoft/Phi-3-mini-4k-instruct',
    contextLength: 2048,
    promptOverheadTokens: 30,
    ttft: Object.freeze([
      [0, 1200],
      [0.05, 1520],
      [0.2, 1790],
      [0.5, 1906],
      [0.8, 1958],
      [0.95, 1994],
      [1, 2060],
    ] as const),
    tpotMs: 28,
    visibility: 0.5,
  }),
  Object.freeze({
    name: 'google/gemma-2b-it',
    contextLength: 4096,
    promptOverheadTokens: 22,
    ttft: Object.freeze([
      [0, 860],
      [0.2, 970],
      [0.5, 1047],
      [0.8, 1180],
      [0.95, 1346],
      [1, 1540],
    ] as const),
    tpotMs: 20,
    visibility: 0.45,
  }),
]);
