import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The scenarios at smoke size through the real CLI (a child process), on the embedded simulator at
// 1/100 of T4 timing with a 20 ms client-loop sleep: the full path, in a few seconds.
const CLI = fileURLToPath(new URL('../bench/cli.ts', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function bench(args: string[]): { out: string; report: Record<string, unknown>; md: string; html: string } {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  dirs.push(out);
  const run = spawnSync(
    process.execPath,
    [CLI, ...args, '--time-scale', '0.01', '--loop-sleep-ms', '20', '--out', out],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(run.status, 0, `bench exited ${run.status}\n${run.stdout}\n${run.stderr}`);
  for (const file of ['report.md', 'report.json', 'report.html'])
    assert.ok(existsSync(join(out, file)), `${file} written`);
  return {
    out: run.stdout,
    report: JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, unknown>,
    md: readFileSync(join(out, 'report.md'), 'utf8'),
    html: readFileSync(join(out, 'report.html'), 'utf8'),
  };
}

type Stat = {
  path: string;
  model: string;
  requests: number;
  successRate: number;
  attemptsMax: number;
  tpot: { count: number };
};
const statsOf = (report: Record<string, unknown>) =>
  (report.scenarios as Array<{ name: string; stats: Stat[]; targets: unknown[] }>)[0] as {
    name: string;
    stats: Stat[];
    targets: unknown[];
  };

describe('bench smoke', () => {
  it('quick_validation: three paths per model, the retrying ones all succeed, reports written', () => {
    const { out, report, md, html } = bench(['--scenario', 'quick_validation', '--requests', '8']);
    const scenario = statsOf(report);
    assert.equal(scenario.name, 'quick_validation');
    const paths = new Set(scenario.stats.map((s) => s.path));
    assert.deepEqual([...paths].sort(), ['backstop', 'client-loop', 'direct', 'reference']);
    for (const s of scenario.stats) {
      assert.equal(s.requests, 4, `${s.path} ${s.model}: 8 requests over 2 models`);
      if (s.path !== 'direct') assert.equal(s.successRate, 1, `${s.path} ${s.model} always succeeds`);
      if (s.path === 'direct') assert.equal(s.attemptsMax, 1);
    }
    assert.ok(scenario.targets.length > 0, 'the retry-tax target is reported');
    assert.match(md, /## Quick validation/);
    assert.match(md, /### MLPerf compliance/);
    assert.match(html, /<svg id="chart-cdf-quick-validation-/);
    assert.match(out, /== Quick validation/);
  });

  it('retry_tax: backstop and the reference at each load, the bar judged at the first', () => {
    const { report, md } = bench(['--scenario', 'retry_tax', '--requests', '6', '--concurrency', '2']);
    const scenario = report.scenarios as Array<{
      name: string;
      stats: Stat[];
      targets: Array<{ name: string }>;
      tables: Array<{ title: string; rows: unknown[][] }>;
    }>;
    const [first] = scenario;
    assert.equal(first?.name, 'retry_tax');
    assert.deepEqual(
      first?.targets.map((t) => t.name),
      ['Retry tax at 2 in flight, Phi-3-mini-4k-instruct', 'Retry tax at 2 in flight, gemma-2b-it'],
    );
    for (const s of first?.stats ?? []) assert.equal(s.successRate, 1, `${s.path} ${s.model}`);
    assert.deepEqual(new Set(first?.stats.map((s) => s.path)), new Set(['backstop', 'reference']));
    const table = first?.tables.find((t) => t.title === 'Retry tax by load');
    assert.equal(table?.rows.length, 2, 'one row per model at the one load asked for');
    assert.match(md, /## Retry tax by load/);
  });

  it('streaming: TPOT measured from SSE, and the scale run loses no stream', () => {
    const { report, md } = bench([
      '--scenario',
      'streaming',
      '--requests',
      '4',
      '--streams',
      '20',
      '--models',
      'google/gemma-2b-it',
    ]);
    const scenario = statsOf(report);
    const targets = scenario.targets as Array<{ name: string; met: boolean | null }>;
    const bs = scenario.stats.find((s) => s.path === 'backstop');
    assert.ok(bs && bs.tpot.count > 0, 'backstop streams have a TPOT');
    const lost = targets.find((t) => t.name === 'Streams lost');
    assert.equal(lost?.met, true);
    assert.match(md, /Streaming scale: 20 concurrent streams/);
  });
});
