import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findNginx } from '../bench/processes/nginx.ts';
import type { ScenarioResult, Target } from '../bench/scenarios/types.ts';
import { checkVerdict } from '../bench/statistics/footprint.ts';

// The overhead scenario (issue 13) through the real CLI at smoke size: every path and table is
// there, and `--check` exits 1 when a bar is missed. The figures of a half-second step mean
// nothing; only the shape and the verdicts are checked.
const CLI = fileURLToPath(new URL('../bench/cli.ts', import.meta.url));
const SMOKE = ['--duration', '0.5', '--repetitions', '1', '--streams', '10', '--hold', '0.5'];
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function bench(args: string[]) {
  const out = mkdtempSync(join(tmpdir(), 'bench-overhead-'));
  dirs.push(out);
  const run = spawnSync(process.execPath, [CLI, ...args, ...SMOKE, '--out', out], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
    scenarios: ScenarioResult[];
  };
  return { run, scenario: report.scenarios[0] as ScenarioResult };
}

const pathsOf = (s: ScenarioResult) =>
  (s.tables.find((t) => t.title.startsWith('Relay cost'))?.rows ?? []).map((r) => r[0]);

describe('bench overhead', () => {
  it('every path against the fixed upstream, the floor ratios, tracing on/off, the hold and the retry path', {
    timeout: 90_000,
  }, () => {
    const { run, scenario } = bench(['--scenario', 'overhead', '--no-profile']);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const expected = ['direct', ...(findNginx() ? ['nginx'] : []), 'floor', 'backstop', 'backstop traced'];
    assert.deepEqual(pathsOf(scenario), expected);
    const ratios = scenario.ratios.map((r) => r.name);
    assert.ok(ratios.includes('JSON CPU per request, backstop / floor'), ratios.join('\n'));
    assert.ok(ratios.includes('relay CPU per request, tracing on (100%) / off'), ratios.join('\n'));
    // Read by the probe in both relays: backstop does more per request than the floor, within reason.
    const allocated = scenario.ratios.find(
      (r) => r.name === 'heap allocated per JSON request, backstop / floor',
    );
    assert.ok(allocated && allocated.value > 1 && allocated.value < 4, JSON.stringify(allocated));
    assert.equal(scenario.targets.filter((t) => t.check).length, 10);
    const lost = scenario.targets.find((t) => t.name === 'Streams lost while holding 10');
    assert.equal(lost?.met, true, lost?.measured);
    const retry = scenario.tables.find((t) => t.title.startsWith('Retry and verification path'));
    const attempts = (retry?.rows ?? []).map((r) => Number(r[4]));
    // No misroutes: one attempt each; half misrouted, independently: about two.
    assert.equal(attempts[0], 1);
    assert.ok((attempts[1] ?? 0) > 1.3, `attempts per request with 50% misroutes: ${attempts[1]}`);
    const held = scenario.tables.find((t) => t.title.startsWith('Held streams'));
    assert.deepEqual(
      held?.rows.map((r) => [r[0], r[2]]),
      [
        ['floor', 10],
        ['backstop', 10],
      ],
      'both relays kept every stream',
    );
    assert.ok(ratios.includes('peak RSS holding 10 streams, backstop / floor'), ratios.join('\n'));
    // Each peak with its anonymous part, `RSS (anon)` in MB: some, and less than the whole.
    for (const row of held?.rows ?? []) {
      const [, rss, anon] = /^(\d+) \((\d+)\)$/.exec(String(row[5])) ?? [];
      assert.ok(Number(anon) > 0 && Number(anon) < Number(rss), `${row[0]}: peak RSS (anonymous) ${row[5]}`);
    }
  });

  it('--check: floor and backstop only; a missed bar is printed and exits 1', { timeout: 90_000 }, () => {
    // An impossible idle-RSS bar (0 MB) and a generous hold bar: both are measured in every run,
    // so the verdicts do not depend on how a half-second step went.
    const { run, scenario } = bench(['--check', '--bar', 'idleRssMb=0', '--bar', 'holdRssMb=100000']);
    assert.equal(run.status, 1, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(pathsOf(scenario), ['floor', 'backstop']);
    assert.match(run.stdout, /^check: \d+ of 10 bars not met$/m);
    assert.match(
      run.stdout,
      /^ {2}MISSED {2}backstop RSS at idle after start: \d+ MB \(\d+ MB anonymous\) \(bar <= 0 MB\)$/m,
    );
    assert.match(
      run.stdout,
      /^ {2}ok {6}backstop peak RSS holding 10 streams: \d+ MB \(\d+ MB anonymous\) \(bar <= 100000 MB\)$/m,
    );
  });

  it('checkVerdict: passes only when every checked bar is met; unmeasured counts as not met', () => {
    const t = (met: boolean | null, check = true): Target => ({
      name: 'x',
      bar: 'b',
      measured: 'm',
      met,
      check,
    });
    assert.equal(checkVerdict([t(true), t(true), t(false, false)]).passed, true);
    assert.equal(checkVerdict([t(true), t(false)]).passed, false);
    assert.equal(checkVerdict([t(true), t(null)]).passed, false);
    assert.equal(checkVerdict([]).passed, false, 'no bars at all is not a pass');
    assert.equal(checkVerdict([t(true), t(false)]).lines[0], 'check: 1 of 2 bars not met');
  });
});
