import { setImmediate as nextTurn } from 'node:timers/promises';

/** What a test needs of one answer from backstop. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Milliseconds from sending the request to the end of the body, measured by the client. */
  ms: number;
  /** `error.code` of an OpenAI-shaped error body, if the body is one. */
  code: string | undefined;
}

/** POSTs a chat completion for `model` to backstop and reads the whole answer. */
export async function chat(
  baseUrl: string,
  model: string,
  extra: Record<string, unknown> = {},
  init: RequestInit = {},
): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra }),
    ...init,
  });
  const text = await res.text();
  const ms = performance.now() - started;
  let code: string | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
  } catch {
    // Not JSON (an SSE body): no error code.
  }
  return { status: res.status, headers: res.headers, text, ms, code };
}

/** One sample of a Prometheus text exposition: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (enough of it for backstop's own series). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, '$1');
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Scrapes backstop's admin `/metrics`. */
export async function scrape(adminUrl: string): Promise<Sample[]> {
  const res = await fetch(`${adminUrl}/metrics`);
  return parseMetrics(await res.text());
}

/** Sum of every sample of `name` whose labels include `labels`. */
export function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** `backstop_inflight_requests`, all models together. */
export async function inflight(adminUrl: string): Promise<number> {
  return sum(await scrape(adminUrl), 'backstop_inflight_requests');
}

/**
 * Polls `probe` until it returns true, yielding to the event loop between tries (no fixed sleep);
 * throws after `timeoutMs`. For state that lives in another process and emits no event we can hear.
 */
export async function until(
  probe: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await nextTurn();
  }
}

/** The p-th percentile (0-100) of `values` by linear interpolation between closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (h - lo);
}

/** `12.3` for a figure in a report line. */
export const fmt = (ms: number): string => ms.toFixed(1);
