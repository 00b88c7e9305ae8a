import { fmtMs, fmtNum, fmtPct } from '../bench/reports/format.ts';
import type { Progress } from '../bench/scenarios/types.ts';
import type { DemoPath, PathStats } from './demo-run.ts';

/** What `npm run demo` prints for people. Everything goes to process.stdout (a script, not src/). */

const write = (text: string) => process.stdout.write(text);
const BAR = 30;

/**
 * Per-request progress for one path (the bench's progress hook: `label` is the path's name): a bar
 * redrawn in place on a terminal, one closing line elsewhere.
 */
export function progress(path: string, total: number): Progress {
  const tty = process.stdout.isTTY === true;
  const t0 = performance.now();
  let done = 0;
  let ok = 0;
  const label = path.padEnd(10);
  const seconds = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const draw = () => {
    const filled = Math.round((done / total) * BAR);
    write(
      `\r  ${label}[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${done}/${total}  ${seconds()}\x1b[K`,
    );
  };
  // The clock ticks between answers too: at T4 timing the first ones take a second or two.
  const ticker = tty ? setInterval(draw, 250) : undefined;
  ticker?.unref();
  if (tty) draw();
  return {
    done(sample) {
      done++;
      if (sample.ok) ok++;
      if (tty) draw();
    },
    end() {
      clearInterval(ticker);
      const text = `  ${label}${done} requests in ${seconds()}, ${ok} answered by the model asked for`;
      write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
    },
  };
}

/** One model's comparison, direct above backstop, columns aligned. */
export function modelTable(model: string, rows: ReadonlyArray<[DemoPath, PathStats]>): string {
  const cells = [
    ['', 'success', '', 'attempts mean', 'max', 'latency p50', 'p95'],
    ...rows.map(([path, s]) => [
      path,
      fmtPct(s.successRate),
      `${s.succeeded}/${s.requests}`,
      fmtNum(s.attempts.mean, 2),
      Number.isFinite(s.attempts.max) ? String(s.attempts.max) : '-',
      fmtMs(s.latencyMs.p50),
      fmtMs(s.latencyMs.p95),
    ]),
  ];
  const widths = (cells[0] as string[]).map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  // The path name reads left to right; every figure is right-aligned so digits line up.
  const line = (r: string[]) =>
    `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`;
  return [model, ...cells.map(line)].join('\n');
}

/** What the tables mean, and what to run next. Worded from the numbers, so it never claims more than they show. */
export function closing(direct: PathStats, backstop: PathStats): string {
  const lost = backstop.requests - backstop.succeeded;
  const answered = lost === 0 ? 'all' : `${backstop.succeeded} of`;
  return [
    `direct:   ${fmtPct(direct.successRate)} were answered by the model they asked for; the endpoint picker, which scores`,
    "          pods by load and ignores `model`, sent the rest to the other model's vLLM (404).",
    `backstop: answered ${answered} ${backstop.requests} at ${fmtNum(backstop.attempts.mean, 2)} upstream attempts per request on average (x-backstop-attempts):`,
    "          it checks each answer's `model` and retries a misroute within milliseconds (it costs no",
    '          generation); a model whose pod stays busy waits its turn in a queue until the picker lets it in.',
    ...(lost === 0
      ? []
      : [
          `          ${lost === 1 ? '1 request' : `${lost} requests`} failed: see the log line's results; RETRY_DEADLINE_MS and`,
          '          RETRY_MAX_MISROUTES end a request whose pod the picker never chose.',
        ]),
    'Latency columns count successful requests only.',
    'Next: `npm run bench` adds a client-side retry loop, streaming, overhead and outage scenarios.',
  ].join('\n');
}
