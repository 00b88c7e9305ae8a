import type { Metric, Registry } from 'prom-client';

/**
 * A counter and a histogram for the per-request series, exported through prom-client's registry
 * in its own format (the same lines, label order included), but recorded without it: prom-client
 * builds a label-hash string and validates the label names on every inc() and observe(), and a
 * request made five such calls (issue 13 measured the metrics observer at ~5% of the CPU per
 * request). Here a series is found by its label values through nested Maps, created on first use
 * and kept; recording is a number added in place. Only what the proxy's hot path records uses
 * these; everything else stays prom-client's.
 */

/** One series: its labels (in labelNames order) and where its numbers live. */
interface Series<T> {
  labels: Record<string, string>;
  cell: T;
}

/** Series by label values, one Map level per label name. */
class SeriesTable<T> {
  readonly #labelNames: readonly string[];
  readonly #make: () => T;
  readonly #root = new Map<string, unknown>();
  /** Every series, in creation order: the exposition's order, as prom-client's. */
  readonly all: Series<T>[] = [];

  constructor(labelNames: readonly string[], make: () => T) {
    if (labelNames.length < 1 || labelNames.length > 3) throw new RangeError('1 to 3 label names');
    this.#labelNames = labelNames;
    this.#make = make;
  }

  /**
   * The series of these label values, created on first use: `a`, then `b` and `c` for a second
   * and third label name (positional, so that recording allocates nothing).
   */
  get(a: string, b = '', c = ''): T {
    const depth = this.#labelNames.length;
    let level = this.#root;
    if (depth > 1) level = child(level, a);
    if (depth > 2) level = child(level, b);
    const key = depth === 1 ? a : depth === 2 ? b : c;
    const found = level.get(key) as T | undefined;
    if (found !== undefined) return found;
    const cell = this.#make();
    const values = [a, b, c];
    const labels: Record<string, string> = {};
    this.#labelNames.forEach((name, i) => {
      labels[name] = values[i] as string;
    });
    this.all.push({ labels, cell });
    level.set(key, cell);
    return cell;
  }
}

function child(level: Map<string, unknown>, key: string): Map<string, unknown> {
  let next = level.get(key) as Map<string, unknown> | undefined;
  if (next === undefined) {
    next = new Map();
    level.set(key, next);
  }
  return next;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  sharedLabels?: Record<string, string>;
}

interface HotMetricOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  registry: Registry;
}

/** The shape prom-client's registry reads from a metric (what its own classes return). */
abstract class HotMetric {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator = 'sum';

  constructor(options: HotMetricOptions) {
    this.name = options.name;
    this.help = options.help;
  }

  protected abstract values(): MetricValue[];

  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    };
  }

  /** Registry.resetMetrics(); backstop never calls it. */
  reset(): void {}
}

/** One number per series: what a counter and a gauge share. */
abstract class HotValue extends HotMetric {
  protected readonly table: SeriesTable<{ value: number }>;

  constructor(options: HotMetricOptions) {
    super(options);
    this.table = new SeriesTable(options.labelNames, () => ({ value: 0 }));
    options.registry.registerMetric(this as unknown as Metric);
  }

  protected values(): MetricValue[] {
    return this.table.all.map(({ labels, cell }) => ({ value: cell.value, labels }));
  }
}

/** A counter of the per-request hot path. */
export class HotCounter extends HotValue {
  readonly type = 'counter';

  /** Adds 1 to the series of these label values (in labelNames order). */
  inc(a: string, b?: string, c?: string): void {
    this.table.get(a, b, c).value++;
  }
}

/** A gauge of the per-request hot path: requests in flight. */
export class HotGauge extends HotValue {
  readonly type = 'gauge';

  /** Adds `delta` (negative to decrease) to the series of these label values. */
  add(delta: number, a: string, b?: string, c?: string): void {
    this.table.get(a, b, c).value += delta;
  }
}

interface Buckets {
  /** Observations per bucket, not cumulative; index `bounds.length` is past the last bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram of the per-request hot path. */
export class HotHistogram extends HotMetric {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];
  readonly #table: SeriesTable<Buckets>;

  constructor(options: HotMetricOptions & { buckets: readonly number[] }) {
    super(options);
    this.#bounds = options.buckets;
    const size = options.buckets.length + 1;
    this.#table = new SeriesTable(options.labelNames, () => ({
      counts: new Float64Array(size),
      sum: 0,
      count: 0,
    }));
    options.registry.registerMetric(this as unknown as Metric);
  }

  /** Records `value` in the series of these label values (in labelNames order). */
  observe(value: number, a: string, b?: string): void {
    const series = this.#table.get(a, b);
    const bounds = this.#bounds;
    let i = 0;
    // le is inclusive, as prom-client's findBound.
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    series.counts[i] = (series.counts[i] as number) + 1;
    series.sum += value;
    series.count++;
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, cell } of this.#table.all) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += cell.counts[i] as number;
        out.push({ value: cumulative, labels: { le }, metricName: bucket, sharedLabels: labels });
      });
      out.push(
        { value: cell.count, labels: { le: '+Inf' }, metricName: bucket, sharedLabels: labels },
        { value: cell.sum, labels: {}, metricName: `${this.name}_sum`, sharedLabels: labels },
        { value: cell.count, labels: {}, metricName: `${this.name}_count`, sharedLabels: labels },
      );
    }
    return out;
  }
}
