import type { Comparison, Step, StepFigures } from '../load/relay-comparison.ts';
import { median } from '../load/relay-comparison.ts';
import type { HoldResult } from '../load/stream-hold.ts';
import type { Ratio, Target } from '../scenarios/types.ts';
import { percentile, ratio } from './stats.ts';

/**
 * Issue 13's bars for backstop's footprint, and the targets and ratios read from one overhead
 * run against them. The ratios are to the floor (bench/processes/floor-server.ts), from the same
 * run: absolute figures move with the machine, the ratios far less.
 */
export const FOOTPRINT_BARS = {
  /** JSON CPU per request, backstop / floor: at most. */
  jsonCpu: 1.2,
  /** JSON req/s at saturation, backstop / floor: at least. */
  jsonRps: 0.85,
  /** SSE CPU per stream (the first SSE step), backstop / floor: at most. */
  sseCpu: 1.15,
  /** SSE streams/s at the first SSE step's connections, backstop / floor: at least. */
  sseRps: 0.9,
  /** The same at the second (wider) SSE step: at least. */
  sseWideRps: 0.9,
  /** p99 at the even rate, backstop / floor: at most. */
  p99: 1.5,
  /** backstop's RSS at idle after start, MB: at most. */
  idleRssMb: 70,
  /** backstop's peak RSS at JSON saturation, MB: at most. */
  jsonPeakRssMb: 150,
  /** backstop's peak RSS holding the streams, MB: at most. */
  holdRssMb: 150,
} as const;
export type BarName = keyof typeof FOOTPRINT_BARS;
export type Bars = Record<BarName, number>;
export const BAR_NAMES = Object.keys(FOOTPRINT_BARS) as BarName[];

const MB = 1024 * 1024;

/** One relay's held streams and its peak RSS meanwhile (and that RSS's anonymous part). */
export interface HeldPeak {
  result: HoldResult;
  peakRssBytes: number;
  peakAnonBytes: number;
}
/**
 * A resident set and its anonymous part (RssAnon): what this process alone holds. The rest is
 * file-backed, mostly the node binary's pages, shared by every process that runs the same file.
 */
export interface Resident {
  rssBytes: number;
  anonBytes: number;
}

/** The hold as measured: backstop's (and the floor's, alongside), or why it was not run. */
export type HoldFigures = (HeldPeak & { floor?: HeldPeak }) | { skipped: string };

/** What the targets are read from. */
export interface FootprintInput {
  comparison: Comparison;
  /** backstop's RSS at idle after start, and its anonymous part (NaN when not measured). */
  idle: Resident;
  hold: HoldFigures;
  bars: Bars;
  rate: number;
  jsonConnections: number;
  sseConnections: readonly [number, number];
}

type Pick = (f: StepFigures) => number;
const rps: Pick = (f) => f.reqPerSec;
const cpu: Pick = (f) => f.cpuUsPerRequest;
const p99: Pick = (f) => f.p99Ms;

/** One path against another: each one's median, and the median of their ratios per repetition. */
export interface Paired {
  a: number;
  b: number;
  value: number;
}

/**
 * `mine` against `base`, step by step: the two ran back to back in each repetition, so their
 * ratio there is read under one state of the machine, and the value is the median of those
 * ratios. The ratio of the two medians would pair one repetition's figure with another's: in the
 * run that showed it, a burst of noise in the last of three repetitions (JSON CPU 1.01x, 1.02x,
 * 1.57x) made backstop's median CPU 81 us against the floor's 59, read as 1.37x. `a` and `b` are
 * each one's own median, for the reader.
 */
export function paired(mine: readonly StepFigures[], base: readonly StepFigures[], pick: Pick): Paired {
  const ratios: number[] = [];
  mine.forEach((f, i) => {
    const against = base[i];
    const r = against === undefined ? Number.NaN : ratio(pick(f), pick(against));
    if (Number.isFinite(r)) ratios.push(r);
  });
  return {
    a: median(mine, pick),
    b: median(base, pick),
    value: ratios.length ? percentile(ratios, 50) : Number.NaN,
  };
}

/** One path against the floor (see `paired`). */
function vsFloor(c: Comparison, step: Step, pick: Pick, path = 'backstop'): Paired {
  return paired(c.get(path)?.[step] ?? [], c.get('floor')?.[step] ?? [], pick);
}

const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
const n = (v: number) => (!Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const mb = (bytes: number) => (Number.isFinite(bytes) && bytes > 0 ? `${(bytes / MB).toFixed(0)} MB` : 'n/a');
/** RSS with its anonymous part: `74 MB (23 MB anonymous)`. */
const resident = (rss: number, anon: number) => `${mb(rss)} (${mb(anon)} anonymous)`;

function ratioTarget(
  name: string,
  r: { a: number; b: number; value: number },
  atMost: boolean,
  bar: number,
  unit: string,
): Target {
  return {
    name,
    bar: `${atMost ? '<=' : '>='} ${bar}x the floor`,
    measured: `${x(r.value)} (median per repetition; medians ${n(r.a)} vs ${n(r.b)} ${unit})`,
    met: Number.isFinite(r.value) ? (atMost ? r.value <= bar : r.value >= bar) : null,
    check: true,
  };
}

function memoryTarget(name: string, bytes: number, barMb: number, measured = mb(bytes)): Target {
  return {
    name,
    bar: `<= ${barMb} MB`,
    measured,
    met: Number.isFinite(bytes) && bytes > 0 ? bytes / MB <= barMb : null,
    check: true,
  };
}

/** The step with the highest peak RSS, with its anonymous part (undefined when none was measured). */
export function highestPeak(steps: readonly StepFigures[]): Resident | undefined {
  let top: StepFigures | undefined;
  for (const f of steps)
    if (f.peakRssBytes > 0 && (top === undefined || f.peakRssBytes > top.peakRssBytes)) top = f;
  return top && { rssBytes: top.peakRssBytes, anonBytes: top.peakAnonBytes };
}

/** The bars `--check` enforces, as targets (each marked `check`). */
export function footprintTargets(input: FootprintInput): Target[] {
  const { comparison: c, bars, hold } = input;
  const [narrow, wide] = input.sseConnections;
  const jsonSteps = c.get('backstop')?.json ?? [];
  const highest = highestPeak(jsonSteps);
  const jsonPeak = highest?.rssBytes ?? Number.NaN;
  const targets: Target[] = [
    ratioTarget('JSON CPU per request, backstop / floor', vsFloor(c, 'json', cpu), true, bars.jsonCpu, 'us'),
    ratioTarget(
      `JSON req/s at saturation (${input.jsonConnections} connections), backstop / floor`,
      vsFloor(c, 'json', rps),
      false,
      bars.jsonRps,
      'req/s',
    ),
    ratioTarget(
      `SSE CPU per stream (${narrow} connections), backstop / floor`,
      vsFloor(c, 'sse', cpu),
      true,
      bars.sseCpu,
      'us',
    ),
    ratioTarget(
      `SSE streams/s at ${narrow} connections, backstop / floor`,
      vsFloor(c, 'sse', rps),
      false,
      bars.sseRps,
      'streams/s',
    ),
    ratioTarget(
      `SSE streams/s at ${wide} connections, backstop / floor`,
      vsFloor(c, 'sseWide', rps),
      false,
      bars.sseWideRps,
      'streams/s',
    ),
    ratioTarget(
      `p99 at an even ${input.rate} req/s, backstop / floor`,
      vsFloor(c, 'paced', p99),
      true,
      bars.p99,
      'ms',
    ),
    memoryTarget(
      'backstop RSS at idle after start',
      input.idle.rssBytes,
      bars.idleRssMb,
      resident(input.idle.rssBytes, input.idle.anonBytes),
    ),
    memoryTarget(
      `backstop peak RSS at JSON saturation (${input.jsonConnections} connections)`,
      jsonPeak,
      bars.jsonPeakRssMb,
      `${resident(jsonPeak, highest?.anonBytes ?? Number.NaN)}, highest of ${jsonSteps.length} repetitions`,
    ),
  ];
  if ('skipped' in hold) {
    targets.push(
      {
        name: 'backstop peak RSS holding streams',
        bar: `<= ${bars.holdRssMb} MB`,
        measured: hold.skipped,
        met: null,
        check: true,
      },
      { name: 'Streams lost while held', bar: '0', measured: hold.skipped, met: null, check: true },
    );
  } else {
    const { result } = hold;
    targets.push(
      memoryTarget(
        `backstop peak RSS holding ${result.streams} streams`,
        hold.peakRssBytes,
        bars.holdRssMb,
        resident(hold.peakRssBytes, hold.peakAnonBytes),
      ),
      {
        name: `Streams lost while holding ${result.streams}`,
        bar: `0 of ${result.streams}`,
        measured: `${result.lost} of ${result.streams}${result.reasons.length ? ` (${result.reasons.join('; ')})` : ''}`,
        met: result.lost === 0,
        check: true,
      },
    );
  }
  return targets;
}

/** Every path against the floor, and tracing on against off: the report's ratios. */
export function footprintRatios(
  c: Comparison,
  rate: number,
  sseConnections: readonly [number, number],
): Ratio[] {
  const out: Ratio[] = [];
  const line = (name: string, r: { a: number; b: number; value: number }, unit: string, against: string) =>
    out.push({
      name,
      value: r.value,
      detail: `${n(r.a)} vs ${n(r.b)} ${unit} (${against}; the ratio: median per repetition)`,
    });
  for (const path of c.keys()) {
    if (path === 'floor') continue;
    line(`JSON req/s, ${path} / floor`, vsFloor(c, 'json', rps, path), 'req/s', 'medians');
    if (path !== 'direct')
      line(`JSON CPU per request, ${path} / floor`, vsFloor(c, 'json', cpu, path), 'us', 'medians');
    line(`p99 at ${rate} req/s, ${path} / floor`, vsFloor(c, 'paced', p99, path), 'ms', 'medians');
    if (path !== 'direct') {
      line(
        `SSE CPU per stream at ${sseConnections[1]} connections, ${path} / floor`,
        vsFloor(c, 'sseWide', cpu, path),
        'us',
        'medians',
      );
    }
  }
  const traced = c.get('backstop traced');
  const off = c.get('backstop');
  if (traced && off) {
    // Tracing on at 100% sampling against off, same run (issue 12).
    const on = (step: Step, pick: Pick) => paired(traced[step], off[step], pick);
    line('relay CPU per request, tracing on (100%) / off', on('json', cpu), 'us', 'JSON at saturation');
    line('saturation req/s, tracing on (100%) / off', on('json', rps), 'req/s', 'JSON');
    line(`latency p99 at ${rate} req/s, tracing on (100%) / off`, on('paced', p99), 'ms', 'JSON');
    line(
      'SSE CPU per stream, tracing on (100%) / off',
      on('sse', cpu),
      'us',
      `${sseConnections[0]} connections`,
    );
  }
  return out;
}

/** The one-line verdict of `--check`, and the lines under it. */
export function checkVerdict(targets: readonly Target[]): { passed: boolean; lines: string[] } {
  const gated = targets.filter((t) => t.check);
  const failed = gated.filter((t) => t.met !== true);
  const lines = gated.map(
    (t) =>
      `  ${t.met === true ? 'ok    ' : t.met === false ? 'MISSED' : 'NOT MEASURED'}  ${t.name}: ${t.measured} (bar ${t.bar})`,
  );
  const head =
    failed.length === 0
      ? `check: all ${gated.length} bars met`
      : `check: ${failed.length} of ${gated.length} bars not met`;
  return { passed: failed.length === 0 && gated.length > 0, lines: [head, ...lines] };
}
