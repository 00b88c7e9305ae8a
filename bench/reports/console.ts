import type { RequestSample } from '../load/clients/types.ts';
import type { Progress, ScenarioResult } from '../scenarios/types.ts';
import { fmtMs, fmtNum, fmtPct, shortModel, verdict } from './format.ts';

/** What the suite prints while and after it runs. Output goes to `process.stdout` (a CLI, not src/). */

const write = (text: string) => process.stdout.write(text);

/**
 * A progress line for one phase: rewritten in place on a terminal, one line every 5 s otherwise
 * (CI logs). Shows requests done of total, success so far and elapsed time.
 */
export function progressLine(
  label: string,
  total: number,
  now: () => number = () => performance.now(),
): Progress {
  const t0 = now();
  const tty = process.stdout.isTTY === true;
  let done = 0;
  let ok = 0;
  let lastPrint = t0;
  const line = () =>
    `${label}: ${done}${total ? `/${total}` : ''} requests, ${done ? fmtPct(ok / done) : '-'} ok, ${((now() - t0) / 1000).toFixed(1)} s`;
  if (!tty) write(`${label} ...\n`);
  return {
    done(sample: RequestSample) {
      done++;
      if (sample.ok) ok++;
      const t = now();
      if (tty && t - lastPrint > 100) {
        write(`\r${line()}\x1b[K`);
        lastPrint = t;
      } else if (!tty && t - lastPrint > 5000) {
        write(`  ${line()}\n`);
        lastPrint = t;
      }
    },
    end() {
      const text = done ? `${line()}, done` : `${label}: done in ${((now() - t0) / 1000).toFixed(1)} s`;
      write(tty ? `\r${text}\x1b[K\n` : `  ${text}\n`);
    },
  };
}

function pad(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

/** The closing console summary of one scenario. */
export function consoleSummary(s: ScenarioResult): string {
  const out = [`\n== ${s.title} (${(s.wallMs / 1000).toFixed(1)} s)`];
  if (s.skipped) return `${out[0]}\n   skipped: ${s.skipped}\n`;
  if (s.stats.length) {
    out.push(
      pad([
        ['path', 'model', 'success', 'att mean', 'att max', 'TTFT p50', 'TTFT p95', 'TPOT p95', 'MLPerf'],
        ...s.stats.map((x) => [
          x.path,
          shortModel(x.model),
          `${fmtPct(x.successRate)} (${x.succeeded}/${x.requests})`,
          fmtNum(x.attemptsMean),
          String(x.attemptsMax),
          fmtMs(x.ttft.p50),
          fmtMs(x.ttft.p95),
          x.tpot.count ? fmtMs(x.tpot.p95) : 'n/a',
          x.mlperf.verdict,
        ]),
      ]),
    );
  }
  for (const t of s.tables) out.push(`-- ${t.title}`, pad([t.columns, ...t.rows.map((r) => r.map(String))]));
  if (s.ratios.length) {
    out.push(
      '-- ratios',
      ...s.ratios.map(
        (r) => `   ${r.name}: ${Number.isFinite(r.value) ? `${r.value.toFixed(2)}x` : 'n/a'} (${r.detail})`,
      ),
    );
  }
  if (s.targets.length)
    out.push(
      '-- targets',
      ...s.targets.map((t) => `   ${verdict(t.met)}  ${t.name}: ${t.measured} (bar ${t.bar})`),
    );
  if (s.backstopUsage) {
    const u = s.backstopUsage;
    out.push(
      `-- backstop: ${u.cpuSeconds.toFixed(2)} CPU s, ${fmtNum(u.cpuUsPerRequest, 0)} us/request, peak RSS ${(u.peakRssBytes / 1048576).toFixed(0)} MB`,
    );
  }
  return `${out.join('\n')}\n`;
}
