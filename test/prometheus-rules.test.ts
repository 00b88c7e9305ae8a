import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { skipWithout } from './support/system-tool.ts';

const NO_PROMTOOL = skipWithout('promtool', 'prometheus');

// The alert rules' acceptance: `promtool check rules` and `promtool test rules` pass, and the unit
// tests cover every alert both firing and not firing. promtool comes with Debian's `prometheus`
// package. Without it the promtool tests skip with one line naming the package; .ci/run installs
// it and fails on any skip, so a broken rule cannot land.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RULES = join(ROOT, 'deploy/prometheus/backstop-rules.yaml');
const TESTS_DIR = join(ROOT, 'deploy/prometheus/tests');
const TEST_FILES = readdirSync(TESTS_DIR)
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => join(TESTS_DIR, name));
/** Where the runbooks live: one page per alert, `docs/runbooks/<alert>.md`. */
const RUNBOOK_DIR = join(ROOT, 'docs/runbooks');

const REQUIRED_ALERTS = [
  'BackstopCircuitOpen',
  'BackstopHighAverageAttempts',
  'BackstopLowSuccessRate',
  'BackstopRetryBudgetExhausted',
  'BackstopTTFTP95High',
];

type Rule = {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
type RuleFile = { groups: { name: string; rules: Rule[] }[] };
type PromtoolTestFile = {
  rule_files: string[];
  tests: {
    name?: string;
    alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[];
    promql_expr_test?: { expr: string }[];
  }[];
};

const rules = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule) => rule.alert !== undefined);
const recordings = rules.filter((rule) => rule.record !== undefined);
const promtoolTests = TEST_FILES.map((file) => ({
  file,
  doc: parse(readFileSync(file, 'utf8')) as PromtoolTestFile,
}));

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('deploy/prometheus rules', () => {
  const scratch: string[] = [];
  after(() => {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  test('promtool check rules accepts the rule file', { skip: NO_PROMTOOL }, () => {
    const { status, output } = promtool('check', 'rules', RULES);
    assert.equal(status, 0, output);
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  test('promtool test rules passes every unit test file', { skip: NO_PROMTOOL }, () => {
    assert.ok(TEST_FILES.length > 0, `no promtool tests in ${TESTS_DIR}`);
    const { status, output } = promtool('test', 'rules', ...TEST_FILES);
    assert.equal(status, 0, output);
    assert.equal(output.match(/SUCCESS/g)?.length, TEST_FILES.length, output);
  });

  test('the promtool tests do fail when a threshold is broken', { skip: NO_PROMTOOL }, () => {
    // Guards this harness itself: a rule file that no longer matches its tests must turn the run red.
    const dir = mkdtempSync(join(tmpdir(), 'backstop-rules-'));
    scratch.push(dir);
    cpSync(TESTS_DIR, join(dir, 'tests'), { recursive: true });
    const broken = readFileSync(RULES, 'utf8').replace('avg5m > 3', 'avg5m > 30');
    assert.notEqual(broken, readFileSync(RULES, 'utf8'), 'the mutation must apply');
    writeFileSync(join(dir, 'backstop-rules.yaml'), broken);
    const { status, output } = promtool(
      'test',
      'rules',
      join(dir, 'tests', 'high-average-attempts.test.yaml'),
    );
    assert.notEqual(status, 0, output);
    assert.match(output, /BackstopHighAverageAttempts/);
  });

  test('the alerts are exactly the five the issue asks for', () => {
    assert.deepEqual(alerts.map((rule) => rule.alert).sort(), REQUIRED_ALERTS);
  });

  test('every alert has a severity, a summary, a description and a runbook page', () => {
    for (const rule of alerts) {
      const name = rule.alert as string;
      assert.match(rule.labels?.severity ?? '', /^(warning|critical)$/, `${name}: severity`);
      assert.ok(rule.annotations?.summary, `${name}: summary`);
      assert.ok(rule.annotations?.description, `${name}: description`);
      // An absolute link a browser or Alertmanager can open: <base>/docs/runbooks/<alert>.md.
      // test/docs-links.test.ts checks the base against the kustomize Component's.
      const url = rule.annotations?.runbook_url ?? '';
      assert.equal(URL.canParse(url) && new URL(url).protocol, 'https:', `${name}: runbook_url "${url}"`);
      assert.ok(url.endsWith(`/docs/runbooks/${name}.md`), `${name}: runbook_url "${url}"`);
      const page = join(RUNBOOK_DIR, `${name}.md`);
      assert.ok(existsSync(page), `${name}: no ${page}`);
      assert.match(
        readFileSync(page, 'utf8'),
        new RegExp(`^# Runbook: ${name}$`, 'm'),
        `${name}: page title`,
      );
    }
  });

  test('every unit test file tests the real rule file', () => {
    for (const { file, doc } of promtoolTests) {
      assert.deepEqual(doc.rule_files, ['../backstop-rules.yaml'], file);
    }
  });

  test('every alert is tested both firing and not firing', () => {
    const cases = promtoolTests.flatMap(({ doc }) => doc.tests.flatMap((t) => t.alert_rule_test ?? []));
    for (const name of REQUIRED_ALERTS) {
      const mine = cases.filter((c) => c.alertname === name);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name}: no alert_rule_test expects it to fire`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name}: no alert_rule_test expects it not to fire`,
      );
    }
  });

  test('every recording rule is checked by a promql_expr_test', () => {
    const exprs = promtoolTests.flatMap(({ doc }) =>
      doc.tests.flatMap((t) => (t.promql_expr_test ?? []).map((c) => c.expr)),
    );
    for (const rule of recordings) {
      assert.ok(
        exprs.some((expr) => expr.includes(rule.record as string)),
        `${rule.record}: no promql_expr_test`,
      );
    }
  });
});
