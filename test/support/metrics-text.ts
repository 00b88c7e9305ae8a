/** One sample line of a Prometheus text exposition: `name{labels} value`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: every `# TYPE` declared (family -> type) and every sample. */
export interface Exposition {
  types: Map<string, string>;
  samples: MetricSample[];
}

/**
 * Parses the Prometheus text format (0.0.4), enough of it for prom-client's output: `# TYPE`
 * lines, and samples with escaped label values (`\\`, `\"`, `\n`). Families declared without a
 * sample (a labelled counter never incremented) show up in `types` only.
 */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      );
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return { types, samples };
}

/**
 * The family a sample belongs to: its own name, or for histogram and summary series the name
 * without `_bucket`, `_sum` or `_count`.
 */
export function familyOf(name: string, types: ReadonlyMap<string, string>): string {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.has(base) ? base : name;
}

/** Label names of a sample, sorted, without the `le` a histogram's buckets add. */
export function labelNames(sample: MetricSample): string[] {
  return Object.keys(sample.labels)
    .filter((k) => !(k === 'le' && sample.name.endsWith('_bucket')))
    .sort();
}

/** The distinct values of label `label` per family, over every sample that has it. */
export function labelValues(e: Exposition, label: string): Map<string, Set<string>> {
  const values = new Map<string, Set<string>>();
  for (const s of e.samples) {
    const value = s.labels[label];
    if (value === undefined) continue;
    const family = familyOf(s.name, e.types);
    const set = values.get(family) ?? new Set<string>();
    set.add(value);
    values.set(family, set);
  }
  return values;
}

/** Sum of every sample named `name` whose labels include `labels`. */
export function sumOf(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const s of e.samples) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** GETs `${adminUrl}/metrics` and parses it; throws on a non-200. */
export async function scrapeMetrics(adminUrl: string): Promise<Exposition> {
  const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text.slice(0, 200)}`);
  return parseExposition(text);
}
