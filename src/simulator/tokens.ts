import type { SimModel } from './models.ts';

/**
 * Token counting without a tokenizer: one token per 4 characters (rounded up), the usual rule of
 * thumb for English with BPE vocabularies, plus the model's fixed prompt overhead. With the
 * report's prompts ("Request 17", 3 tokens) at max_tokens 15 this totals 48 tokens for Phi-3
 * (30 + 3 + 15) and 40 for Gemma (22 + 3 + 15), the report's 48.4 and 40.5.
 */
export function textTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Prompt tokens as vLLM would report them in `usage.prompt_tokens`. */
export function promptTokens(model: SimModel, prompt: string): number {
  return model.promptOverheadTokens + textTokens(prompt);
}
