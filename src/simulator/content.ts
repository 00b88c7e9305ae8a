import { createRng, hashString } from './rng.ts';

// Plain words so that generated text is readable in demos and logs.
const WORDS = [
  'the',
  'model',
  'answers',
  'quickly',
  'with',
  'a',
  'short',
  'reply',
  'about',
  'routing',
  'and',
  'tokens',
  'gateway',
  'backend',
  'retry',
  'stream',
  'latency',
  'is',
  'fine',
  'today',
  'under',
  'load',
  'every',
  'request',
  'finds',
  'its',
  'way',
  'home',
  'after',
  'some',
  'tries',
  'of',
  'course',
  'we',
  'measure',
  'this',
  'carefully',
  'on',
  'two',
  'GPUs',
  'in',
  'one',
  'cluster',
  'that',
  'never',
  'sleeps',
  'while',
  'schedulers',
  'flap',
  'now',
  'then',
  'again',
  'so',
  'clients',
  'must',
  'persist',
  'politely',
  'until',
  'success',
  'arrives',
  'here',
  'at',
  'last',
  'done',
];

/**
 * The text of each generated token, in order. Deterministic in (model, prompt): each model says
 * something different to the same prompt, so a wrong-model answer is visible in the content too.
 * The first token has no leading space, the others have one, so the tokens concatenate to the text.
 */
export function generateTokens(model: string, prompt: string, count: number): string[] {
  const rng = createRng(hashString(`${model}\u0000${prompt}`));
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const word = WORDS[Math.floor(rng.next() * WORDS.length)] ?? 'the';
    tokens.push(i === 0 ? word : ` ${word}`);
  }
  return tokens;
}

/**
 * The exact text `model` generates for `prompt` with `maxTokens` tokens (completion tokens always
 * equal max_tokens: the simulated models never emit EOS). For chat the prompt is the messages'
 * text contents joined with "\n" (see request.ts).
 */
export function expectedContent(model: string, prompt: string, maxTokens: number): string {
  return generateTokens(model, prompt, maxTokens).join('');
}
