import type { ScenarioResult, Table } from '../scenarios/types.ts';
import {
  fmtNum,
  MLPERF_COLUMNS,
  mlperfRow,
  modelsOf,
  PATH_COLUMNS,
  pathRow,
  shortModel,
  verdict,
} from './format.ts';
import type { RunReport } from './types.ts';

/** report.md: laid out like the Pattern 2 T4 report (pattern2-gpu-results.md), so its readers find their way. */

function mdTable(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const esc = (v: string | number) => String(v).replace(/\|/g, '\\|');
  return [
    `| ${columns.map(esc).join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function extraTable(t: Table): string {
  return `#### ${t.title}\n\n${mdTable(t.columns, t.rows)}\n${t.note ? `\n${t.note}\n` : ''}`;
}

function scenarioSection(s: ScenarioResult): string {
  const out: string[] = [`## ${s.title}`, '', s.summary, ''];
  if (s.skipped) return out.join('\n');
  for (const model of modelsOf(s.stats)) {
    out.push(
      `### ${model}`,
      '',
      mdTable(PATH_COLUMNS, s.stats.filter((x) => x.model === model).map(pathRow)),
      '',
    );
  }
  if (s.stats.length > 0) {
    const maxAttempts = Math.max(...s.stats.map((x) => x.attemptsMax));
    const cols = Array.from({ length: maxAttempts }, (_, i) => String(i + 1));
    out.push(
      '### Retry statistics (requests by attempts)',
      '',
      mdTable(
        ['Path', 'Model', ...cols],
        s.stats.map((x) => {
          const counts = new Map(x.attemptsDistribution);
          return [x.path, shortModel(x.model), ...cols.map((c) => String(counts.get(Number(c)) ?? ''))];
        }),
      ),
      '',
      '### MLPerf compliance (TTFT p95 <= 2 s, TPOT p95 <= 100 ms, every answer from the right model)',
      '',
      mdTable(MLPERF_COLUMNS, s.stats.map(mlperfRow)),
      '',
    );
    const errors = s.stats.filter((x) => Object.keys(x.errors).length > 0);
    if (errors.length > 0) {
      out.push(
        '### Failures by cause',
        '',
        mdTable(
          ['Path', 'Model', 'Causes'],
          errors.map((x) => [
            x.path,
            shortModel(x.model),
            Object.entries(x.errors)
              .map(([k, v]) => `${k}: ${v}`)
              .join(', '),
          ]),
        ),
        '',
      );
    }
  }
  if (s.ratios.length > 0) {
    out.push(
      '### Ratios (measured in this run)',
      '',
      mdTable(
        ['Ratio', 'Value', 'From'],
        s.ratios.map((r) => [r.name, Number.isFinite(r.value) ? `${r.value.toFixed(2)}x` : 'n/a', r.detail]),
      ),
      '',
    );
  }
  for (const t of s.tables) out.push(extraTable(t));
  if (s.backstopUsage) {
    const u = s.backstopUsage;
    out.push(
      `**backstop resources**: ${fmtNum(u.cpuSeconds, 2)} CPU seconds for ${u.requests} requests ` +
        `(${fmtNum(u.cpuUsPerRequest, 0)} us per request, retries included), peak RSS ${(u.peakRssBytes / 1048576).toFixed(0)} MB.`,
      '',
    );
  }
  if (s.findings.length > 0) {
    out.push('### Key findings', '', ...s.findings.map((f, i) => `${i + 1}. ${f}`), '');
  }
  return out.join('\n');
}

/** The whole report as markdown. */
export function renderMarkdown(report: RunReport): string {
  const targets = report.scenarios.flatMap((s) => s.targets.map((t) => ({ ...t, scenario: s.name })));
  const missed = targets.filter((t) => t.met === false);
  const profile = report.scenarios.find((s) => s.profile)?.profile;
  const e = report.environment;
  const o = report.options;
  const out: string[] = [
    `# backstop benchmark: ${report.scenarios.map((s) => s.name).join(', ')}`,
    '',
    '## Test configuration',
    '',
    `- **Gateway**: ${o.gateway ?? 'embedded Pattern 2 simulator (T4 latency profiles); overhead: a fixed upstream'}`,
    `- **backstop**: ${o.backstop ?? `started by the suite (dist/main.js, its shipped Node flags), default settings; commit ${e.commit}`}`,
    `- **Models**: ${o.models.join(', ')}`,
    `- **Paths**: direct (no retries), client-loop (the report's: check model, sleep ${o.loopSleepMs} ms, up to 10 attempts), backstop`,
    `- **Machine**: ${e.cpus} x ${e.cpuModel}, ${e.memoryGb} GB, ${e.platform}, Node ${e.node}`,
    `- **Test date**: ${report.startedAt} (finished ${report.finishedAt})`,
    `- **Percentiles**: linear interpolation between closest ranks (numpy's default); TTFT counts from the first attempt, sleeps and retries included`,
    '',
  ];
  if (targets.length > 0) {
    out.push(
      '## Performance targets',
      '',
      mdTable(
        ['Scenario', 'Target', 'Bar', 'Measured', 'Verdict'],
        targets.map((t) => [t.scenario, t.name, t.bar, t.measured, verdict(t.met)]),
      ),
      '',
    );
  }
  for (const s of report.scenarios) out.push(scenarioSection(s));
  out.push('## Closing note', '');
  if (missed.length === 0)
    out.push(targets.length ? 'Every measured target was met.' : 'No targets apply to these scenarios.', '');
  else {
    out.push(`${missed.length} target(s) missed:`, '');
    for (const t of missed)
      out.push(`- **${t.name}** (${t.scenario}): bar ${t.bar}; measured ${t.measured}.`);
    out.push('');
  }
  if (profile) {
    out.push(
      `Where backstop's CPU goes at saturation (V8 CPU profile, self time, ${profile.busyMs.toFixed(0)} ms busy): ` +
        profile.byArea
          .slice(0, 8)
          .map((a) => `${a.area} ${a.pct.toFixed(0)}%`)
          .join(', ') +
        '. The heaviest functions are in the overhead section.',
      '',
    );
  }
  return out.join('\n');
}
