import type { ScenarioResult } from '../scenarios/types.ts';
import { cdfPoints } from '../statistics/stats.ts';
import { MLPERF_COLUMNS, mlperfRow, modelsOf, PATH_COLUMNS, pathRow, shortModel, verdict } from './format.ts';
import { renderMarkdown } from './markdown.ts';
import { barChart, cdfChart, PATH_COLORS, type Series, scatterChart } from './svg-charts.ts';
import type { RunReport } from './types.ts';

/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no network) with the
 * charts on top of each scenario and the same tables as report.md below them.
 */

const esc = (v: unknown) =>
  String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function table(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>, cls = ''): string {
  return `<table class="${cls}"><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const color = (path: string) => PATH_COLORS[path] ?? '#444';
const slug = (text: string) =>
  text
    .replace(/[^a-zA-Z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();

/** The three charts of a path comparison; ids are `chart-<kind>-<scenario>[-<model>]`. */
export function scenarioCharts(s: ScenarioResult): string[] {
  if (s.latencyCdf) {
    return [
      cdfChart(
        `chart-cdf-${slug(s.name)}`,
        s.latencyCdf.title,
        'latency (ms)',
        s.latencyCdf.series.map((x) => ({ name: x.path, color: color(x.path), points: x.points })),
      ),
    ];
  }
  if (s.samples.length === 0) return [];
  const charts: string[] = [];
  const paths = [...new Set(s.samples.map((x) => x.path))];
  for (const model of modelsOf(s.stats)) {
    charts.push(
      cdfChart(
        `chart-cdf-${slug(s.name)}-${slug(shortModel(model))}`,
        `TTFT CDF, ${shortModel(model)} (successful requests)`,
        'TTFT (ms, from the first attempt)',
        paths.map((path) => ({
          name: path,
          color: color(path),
          points: cdfPoints(
            s.samples
              .filter((x) => x.path === path && x.model === model && x.ok && x.ttftMs !== null)
              .map((x) => x.ttftMs as number),
          ),
        })),
      ),
    );
  }
  const attemptPaths = s.stats.filter((x) => x.path !== 'reference');
  const maxAttempts = Math.max(1, ...attemptPaths.map((x) => x.attemptsMax));
  const categories = Array.from({ length: maxAttempts }, (_, i) => String(i + 1));
  const byPath = new Map<string, Map<number, number>>();
  for (const x of attemptPaths) {
    const counts = byPath.get(x.path) ?? new Map<number, number>();
    for (const [a, c] of x.attemptsDistribution) counts.set(a, (counts.get(a) ?? 0) + c);
    byPath.set(x.path, counts);
  }
  charts.push(
    barChart(
      `chart-attempts-${slug(s.name)}`,
      'Attempts per request (both models)',
      categories,
      'attempts',
      'requests',
      [...byPath].map(([path, counts]) => ({
        name: path,
        color: color(path),
        points: [...counts].map(([a, c]) => [a - 1, c] as [number, number]),
      })),
    ),
  );
  const ok: Series[] = paths.map((path) => ({
    name: path,
    color: color(path),
    points: s.samples
      .filter((x) => x.path === path && x.ok && x.ttftMs !== null)
      .map((x) => [x.startMs / 1000, x.ttftMs as number] as [number, number]),
  }));
  const failed: Series[] = paths.map((path) => ({
    name: path,
    color: color(path),
    points: s.samples
      .filter((x) => x.path === path && !x.ok)
      .map((x) => [x.startMs / 1000, 0] as [number, number]),
  }));
  charts.push(
    scatterChart(
      `chart-ttft-time-${slug(s.name)}`,
      'TTFT over time (x on the axis: failed request)',
      'request start (s into the phase)',
      'TTFT (ms)',
      ok,
      failed,
    ),
  );
  return charts;
}

function scenarioHtml(s: ScenarioResult): string {
  const parts = [`<section id="scenario-${slug(s.name)}"><h2>${esc(s.title)}</h2><p>${esc(s.summary)}</p>`];
  const charts = [
    ...scenarioCharts(s),
    ...(s.series ?? []).map((c) => scatterChart(c.id, c.title, c.xLabel, c.yLabel, c.lines)),
  ];
  if (charts.length) parts.push(`<div class="charts">${charts.join('')}</div>`);
  for (const model of modelsOf(s.stats)) {
    parts.push(
      `<h3>${esc(model)}</h3>`,
      table(PATH_COLUMNS, s.stats.filter((x) => x.model === model).map(pathRow)),
    );
  }
  if (s.stats.length) {
    parts.push('<h3>MLPerf compliance</h3>', table(MLPERF_COLUMNS, s.stats.map(mlperfRow)));
  }
  if (s.ratios.length) {
    parts.push(
      '<h3>Ratios (measured in this run)</h3>',
      table(
        ['Ratio', 'Value', 'From'],
        s.ratios.map((r) => [r.name, Number.isFinite(r.value) ? `${r.value.toFixed(2)}x` : 'n/a', r.detail]),
      ),
    );
  }
  for (const t of s.tables) {
    parts.push(
      `<h3>${esc(t.title)}</h3>`,
      table(t.columns, t.rows),
      t.note ? `<p class="note">${esc(t.note)}</p>` : '',
    );
  }
  if (s.findings.length)
    parts.push(`<h3>Key findings</h3><ol>${s.findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ol>`);
  parts.push('</section>');
  return parts.join('');
}

/** The whole page. */
export function renderHtml(report: RunReport): string {
  const targets = report.scenarios.flatMap((s) => s.targets.map((t) => ({ ...t, scenario: s.name })));
  const closing = renderMarkdown(report).split('## Closing note')[1] ?? '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>backstop benchmark: ${esc(report.scenarios.map((s) => s.name).join(', '))}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1320px;color:#222;padding:0 16px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}
svg.chart{border:1px solid #eee;background:#fff}.met{color:#2ca02c}.missed{color:#d62728;font-weight:bold}.note{color:#666;font-size:12px}
section{border-top:2px solid #eee;margin-top:24px}
</style></head><body>
<h1>backstop benchmark</h1>
<p>${esc(report.startedAt)} &middot; ${esc(report.options.gateway ?? 'embedded Pattern 2 simulator')} &middot; ${esc(report.options.models.join(', '))} &middot; Node ${esc(report.environment.node)}, ${report.environment.cpus} CPUs</p>
${
  targets.length
    ? `<h2>Performance targets</h2><table><thead><tr><th>Scenario</th><th>Target</th><th>Bar</th><th>Measured</th><th>Verdict</th></tr></thead><tbody>${targets
        .map(
          (t) =>
            `<tr><td>${esc(t.scenario)}</td><td>${esc(t.name)}</td><td>${esc(t.bar)}</td><td>${esc(t.measured)}</td><td class="${t.met === false ? 'missed' : t.met ? 'met' : ''}">${esc(verdict(t.met))}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : ''
}
${report.scenarios.map(scenarioHtml).join('\n')}
<section><h2>Closing note</h2><pre style="white-space:pre-wrap">${esc(closing.trim())}</pre></section>
</body></html>
`;
}
