import { type Answer, chat } from './proxy-client.ts';

/** One answered request of a load run. */
export interface LoadAnswer extends Answer {
  model: string;
  /** `x-backstop-attempts`, 0 when absent. */
  attempts: number;
  /** The answer is a 200 from the model asked for (checked here, not taken from backstop's word). */
  success: boolean;
}

/** What a load run saw. */
export interface LoadResult {
  answers: LoadAnswer[];
  successes: number;
  /** Upstream attempts beyond the first, summed over every request. */
  retries: number;
  /** Requests backstop answered with its budget-exhausted 502. */
  budgetRefused: number;
  /** Wall time of the run in ms. */
  ms: number;
}

/**
 * The benchmark's default `quick_validation` load, through backstop: `requests` non-streaming
 * chat requests at max_tokens 15, the models alternating, `concurrency` in flight (a closed loop).
 */
export async function closedLoad(
  baseUrl: string,
  models: readonly string[],
  requests = 50,
  concurrency = 10,
): Promise<LoadResult> {
  const answers: LoadAnswer[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      const seq = next++;
      const model = models[seq % models.length] as string;
      const answer = await chat(baseUrl, model, {
        max_tokens: 15,
        messages: [{ role: 'user', content: `Request ${seq}` }],
      });
      let served: unknown;
      try {
        served = (JSON.parse(answer.text) as { model?: unknown }).model;
      } catch {
        served = undefined;
      }
      answers.push({
        ...answer,
        model,
        attempts: Number(answer.headers.get('x-backstop-attempts') ?? 0),
        success: answer.status === 200 && served === model,
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    answers,
    successes: answers.filter((a) => a.success).length,
    retries: answers.reduce((n, a) => n + Math.max(0, a.attempts - 1), 0),
    budgetRefused: answers.filter((a) => a.code === 'retries_exhausted' && /retry budget/.test(a.text))
      .length,
    ms: performance.now() - started,
  };
}
