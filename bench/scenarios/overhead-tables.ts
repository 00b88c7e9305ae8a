import type { Comparison, ComparisonSpec, StepFigures } from '../load/relay-comparison.ts';
import { median, STEPS } from '../load/relay-comparison.ts';
import { SSE_CHUNKS } from '../processes/fixed-upstream.ts';
import { fmtMsProse } from '../reports/format.ts';
import { type HeldPeak, type HoldFigures, highestPeak, type Resident } from '../statistics/footprint.ts';
import type { ProfileSummary } from '../statistics/profile.ts';
import { ratio } from '../statistics/stats.ts';
import { RETRY_RATE, type RetryRow } from './overhead-retry.ts';
import type { Table } from './types.ts';

/** The overhead scenario's tables: what each step, the hold, the retry path and the profile measured. */

const MB = 1024 * 1024;

export const num = (v: number) => (!Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const mb = (bytes: number | undefined) =>
  bytes !== undefined && Number.isFinite(bytes) && bytes > 0 ? `${(bytes / MB).toFixed(0)}` : '-';
/** RSS with its anonymous part in parentheses, in MB: `74 (23)`. */
const resident = (r: Resident | undefined) => (r ? `${mb(r.rssBytes)} (${mb(r.anonBytes)})` : '-');

export function costTable(c: Comparison, idle: Map<string, Resident>, spec: ComparisonSpec): Table {
  const [narrow, wide] = spec.sseConnections;
  const rows: Table['rows'] = [];
  for (const [path, steps] of c) {
    const m = (step: keyof typeof steps, pick: (f: StepFigures) => number) => median(steps[step], pick);
    const relay = path !== 'direct';
    const failed = STEPS.reduce((sum, step) => sum + steps[step].reduce((s, f) => s + f.failed, 0), 0);
    rows.push([
      path,
      num(m('json', (f) => f.reqPerSec)),
      relay ? num(m('json', (f) => f.cpuUsPerRequest)) : '-',
      `${fmtMsProse(m('paced', (f) => f.p50Ms))} / ${fmtMsProse(m('paced', (f) => f.p99Ms))}`,
      num(m('sse', (f) => f.reqPerSec)),
      relay ? num(m('sse', (f) => f.cpuUsPerRequest)) : '-',
      num(m('sseWide', (f) => f.reqPerSec)),
      relay ? num(m('sseWide', (f) => f.cpuUsPerRequest)) : '-',
      relay ? `${resident(idle.get(path))} / ${resident(highestPeak(steps.json))}` : '-',
      failed,
    ]);
  }
  return {
    title: `Relay cost (medians of ${spec.repetitions} alternated repetitions)`,
    columns: [
      'path',
      `JSON req/s (${spec.jsonConnections} conns)`,
      'CPU us/req',
      `p50 / p99 at ${spec.rate} req/s`,
      `SSE c${narrow} streams/s`,
      `SSE c${narrow} CPU us/stream`,
      `SSE c${wide} streams/s`,
      `SSE c${wide} CPU us/stream`,
      'RSS idle / JSON peak MB (anonymous)',
      'failed',
    ],
    rows,
    note:
      'CPU = user + system seconds of the relay process(es) only, from /proc, over a step, divided by its requests (nginx: master + worker). ' +
      'RSS idle: after start, before any request; JSON peak: VmHWM reset at the start of each JSON step, the highest over the repetitions. ' +
      "In parentheses, the anonymous part (RssAnon, at the highest sample for a peak): what the process alone holds; the rest is the node binary's pages, shared by every process that runs it. " +
      '"failed": non-2xx answers and errors over every step.',
  };
}

/** backstop / floor in each repetition alone: what the targets take the median of. */
export function repetitionTable(c: Comparison, spec: ComparisonSpec): Table {
  const b = c.get('backstop');
  const f = c.get('floor');
  const rows: Table['rows'] = [];
  for (let rep = 0; rep < spec.repetitions; rep++) {
    const r = (step: (typeof STEPS)[number], pick: (x: StepFigures) => number) => {
      const a = b?.[step][rep];
      const z = f?.[step][rep];
      const v = a && z ? ratio(pick(a), pick(z)) : Number.NaN;
      return Number.isFinite(v) ? v.toFixed(2) : 'n/a';
    };
    rows.push([
      rep + 1,
      r('json', (x) => x.cpuUsPerRequest),
      r('json', (x) => x.reqPerSec),
      r('sse', (x) => x.cpuUsPerRequest),
      r('sse', (x) => x.reqPerSec),
      r('sseWide', (x) => x.reqPerSec),
      r('paced', (x) => x.p99Ms),
    ]);
  }
  const [narrow, wide] = spec.sseConnections;
  return {
    title: 'backstop / floor in each repetition',
    columns: [
      'repetition',
      'JSON CPU/req',
      'JSON req/s',
      `SSE c${narrow} CPU/stream`,
      `SSE c${narrow} streams/s`,
      `SSE c${wide} streams/s`,
      `p99 at ${spec.rate} req/s`,
    ],
    rows,
    note: 'Each row pairs the two runs of one repetition, back to back; the targets use the median of each column.',
  };
}

export function holdTable(hold: HoldFigures, holdS: number): Table {
  const columns = ['path', 'streams', 'kept', 'lost', 'wall s', 'peak RSS MB (anonymous)'];
  const title = `Held streams: ${SSE_CHUNKS} chunks each over ${holdS} s, all open at once`;
  if ('skipped' in hold) return { title, columns: ['note'], rows: [[hold.skipped]] };
  const row = (path: string, { result, peakRssBytes, peakAnonBytes }: HeldPeak) => [
    path,
    result.streams,
    result.kept,
    result.lost,
    result.wallS.toFixed(1),
    resident({ rssBytes: peakRssBytes, anonBytes: peakAnonBytes }),
  ];
  return {
    title,
    columns,
    rows: [...(hold.floor ? [row('floor', hold.floor)] : []), row('backstop', hold)],
    note:
      `Each a fresh process, its pool widened to the stream count (backstop's UPSTREAM_CONNECTIONS). ` +
      `Kept: 200, ${SSE_CHUNKS} data events and data: [DONE]. The bar is on backstop's peak. ` +
      "The floor loads undici's whole index (it calls Pool.request); backstop loads its Pool alone, about 5 MB less.",
  };
}

export function retryTable(rows: RetryRow[]): Table {
  return {
    title: `Retry and verification path: backstop in front of the simulator at ${RETRY_RATE} req/s`,
    columns: ['upstream', 'p50', 'p99', 'CPU us/req', 'upstream attempts/req', 'failed'],
    rows: rows.map((r) => [
      r.label,
      fmtMsProse(r.run.latency.p50),
      fmtMsProse(r.run.latency.p99),
      num(r.cpuUsPerRequest),
      r.attemptsPerRequest.toFixed(2),
      r.run.non2xx + r.run.errors,
    ]),
    note:
      "One model; the discovery picker sees its pod half the time and the other model's always, so half of all attempts, " +
      'independently, get a 200 from the wrong model that backstop reads, rejects and retries (backoff included in the latency). ' +
      'The simulator is not the fixed upstream: compare these rows with each other, not with the table above.',
  };
}

export function profileTables(profile: ProfileSummary): Table[] {
  return [
    {
      title: 'backstop CPU profile by area (self time, saturation)',
      columns: ['area', 'self ms', '% of busy'],
      rows: profile.byArea.slice(0, 12).map((a) => [a.area, a.selfMs.toFixed(0), a.pct.toFixed(1)]),
      note: `From ${profile.file}: busy ${profile.busyMs.toFixed(0)} ms, idle ${profile.idleMs.toFixed(0)} ms.`,
    },
    {
      title: 'backstop CPU profile: heaviest functions (self time)',
      columns: ['function', 'where', 'self ms', '% of busy'],
      rows: profile.top.map((f) => [f.fn, f.where, f.selfMs.toFixed(0), f.pct.toFixed(1)]),
    },
  ];
}
